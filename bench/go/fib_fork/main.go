// Provides the Go twin of fib_fork: fib(30) where every call with n >= 2 starts both children as goroutines and receives their results from a channel — ms.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

const n = 30
const want = 832040

func fib(n int, out chan<- int) {
	if n < 2 {
		out <- n
		return
	}
	c := make(chan int)
	go fib(n-1, c)
	go fib(n-2, c)
	out <- <-c + <-c
}

func measure() float64 {
	c := make(chan int)
	start := time.Now()
	go fib(n, c)
	v := <-c
	elapsed := time.Since(start)
	if v != want {
		fmt.Fprintf(os.Stderr, "fib_fork: fib(%d) = %d, want %d\n", n, v, want)
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / 1e6
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	reps := 5
	if *quick {
		reps = 3
	}
	measure() // warm-up
	samples := make([]float64, 0, reps)
	for r := 0; r < reps; r++ {
		runtime.GC()
		samples = append(samples, measure())
	}
	sort.Float64s(samples)
	fmt.Printf("bench fib_fork go %.1f ms\n", samples[len(samples)/2])
}
