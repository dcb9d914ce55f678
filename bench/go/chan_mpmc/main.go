// Provides the Go twin of chan_mpmc: 4 producer and 4 consumer goroutines moving 10,000,000 ints through one channel, buffered (1024) and unbuffered — M items/s for each.
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
	producers   = 4
	consumers   = 4
	items       = 10_000_000
	perProducer = items / producers
	wantSum     = items * (items - 1) / 2
)

type tally struct{ count, sum int }

func measure(capacity int) float64 {
	ch := make(chan int, capacity)
	tallies := make([]tally, consumers)
	var sent, received sync.WaitGroup
	start := time.Now()
	for c := 0; c < consumers; c++ {
		received.Add(1)
		go func(out *tally) {
			defer received.Done()
			count, sum := 0, 0
			for v := range ch {
				count++
				sum += v
			}
			*out = tally{count, sum}
		}(&tallies[c])
	}
	for p := 0; p < producers; p++ {
		sent.Add(1)
		go func(first int) {
			defer sent.Done()
			for v := first; v < first+perProducer; v++ {
				ch <- v
			}
		}(p * perProducer)
	}
	sent.Wait()
	close(ch)
	received.Wait()
	elapsed := time.Since(start)
	var total tally
	for _, t := range tallies {
		total.count += t.count
		total.sum += t.sum
	}
	if total.count != items || total.sum != wantSum {
		fmt.Fprintf(os.Stderr, "chan_mpmc: capacity %d: received %d items summing to %d, want %d summing to %d\n",
			capacity, total.count, total.sum, items, wantSum)
		os.Exit(1)
	}
	return items / elapsed.Seconds() / 1e6
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func series(capacity, reps int) float64 {
	measure(capacity) // warm-up
	samples := make([]float64, 0, reps)
	for r := 0; r < reps; r++ {
		runtime.GC()
		samples = append(samples, measure(capacity))
	}
	return median(samples)
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	reps := 3 // an unbuffered round takes 1.4 s on an idle 2-core machine
	if *quick {
		reps = 1
	}
	fmt.Printf("bench chan_mpmc_buffered go %.2f Mitems/s\n", series(1024, reps))
	fmt.Printf("bench chan_mpmc_unbuffered go %.2f Mitems/s\n", series(0, reps))
}
