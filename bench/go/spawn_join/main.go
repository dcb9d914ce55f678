// Provides the Go twin of spawn_join: 1,000,000 goroutines started one by one, each calling wg.Done(), then wg.Wait() — ns per goroutine with GOMAXPROCS 2 and 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const units = 1_000_000

var ran int64

func measure(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&ran, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func series(procs, reps int) float64 {
	runtime.GOMAXPROCS(procs)
	atomic.StoreInt64(&ran, 0)
	measure(units) // warm-up
	samples := make([]float64, 0, reps)
	for r := 0; r < reps; r++ {
		runtime.GC()
		samples = append(samples, measure(units))
	}
	if got := atomic.LoadInt64(&ran); got != int64(units*(reps+1)) {
		fmt.Fprintf(os.Stderr, "spawn_join: %d goroutines ran, want %d\n", got, units*(reps+1))
		os.Exit(1)
	}
	return median(samples)
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	reps := 7
	if *quick {
		reps = 3
	}
	fmt.Printf("bench spawn_join go %.1f ns/task\n", series(2, reps))
	fmt.Printf("bench spawn_join_1w go %.1f ns/task\n", series(1, reps))
}
