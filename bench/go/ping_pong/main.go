// Provides the Go twin of ping_pong: two goroutines passing an int back and forth over two unbuffered channels, 1,000,000 round trips — ns per round trip.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"time"
)

const roundTrips = 1_000_000

func ponger(ping <-chan int, pong chan<- int, done chan<- struct{}) {
	for v := range ping {
		pong <- v + 1
	}
	close(done)
}

func measure() float64 {
	ping, pong, done := make(chan int), make(chan int), make(chan struct{})
	go ponger(ping, pong, done)
	v := 0
	start := time.Now()
	for i := 0; i < roundTrips; i++ {
		ping <- v
		v = <-pong
	}
	elapsed := time.Since(start)
	close(ping)
	<-done
	if v != roundTrips {
		fmt.Fprintf(os.Stderr, "ping_pong: final value %d, want %d\n", v, roundTrips)
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / roundTrips
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
	fmt.Printf("bench ping_pong go %.1f ns\n", samples[len(samples)/2])
}
