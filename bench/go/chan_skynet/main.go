// Provides the Go twin of chan_skynet: the classic channel skynet (the same code as bench/go/skynet, reported under the chan_skynet row), 1,000,000 leaf goroutines, 10 children each, 6 levels — ms.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

const want = 499999500000

func skynet(c chan<- int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sum := 0
	for i := 0; i < div; i++ {
		subNum := num + i*(size/div)
		go skynet(rc, subNum, size/div, div)
	}
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func measure() float64 {
	c := make(chan int)
	start := time.Now()
	go skynet(c, 0, 1_000_000, 10)
	sum := <-c
	elapsed := time.Since(start)
	if sum != want {
		fmt.Fprintf(os.Stderr, "chan_skynet: sum %d, want %d\n", sum, want)
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / 1e6
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	reps := 7
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
	fmt.Printf("bench chan_skynet go %.1f ms\n", samples[len(samples)/2])
}
