// Provides the Go twin of select: one goroutine selecting over 2 unbuffered channels fed by 2 producer goroutines, 1,000,000 messages — ns per message.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const (
	messages    = 1_000_000
	perProducer = messages / 2
	wantSum     = perProducer * (perProducer + 1) / 2 // each producer sends 1..perProducer
)

func produce(ch chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	for v := 1; v <= perProducer; v++ {
		ch <- v
	}
}

func measure() float64 {
	a, b := make(chan int), make(chan int)
	var count, sum [2]int
	var producers sync.WaitGroup
	producers.Add(2)
	start := time.Now()
	go produce(a, &producers)
	go produce(b, &producers)
	for i := 0; i < messages; i++ {
		select {
		case v := <-a:
			count[0]++
			sum[0] += v
		case v := <-b:
			count[1]++
			sum[1] += v
		}
	}
	elapsed := time.Since(start)
	producers.Wait()
	for c := 0; c < 2; c++ {
		if count[c] != perProducer || sum[c] != wantSum {
			fmt.Fprintf(os.Stderr, "select: case %d received %d values summing to %d, want %d summing to %d\n",
				c, count[c], sum[c], perProducer, wantSum)
			os.Exit(1)
		}
	}
	return float64(elapsed.Nanoseconds()) / messages
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
	fmt.Printf("bench select go %.1f ns/msg\n", samples[len(samples)/2])
}
