// Provides the Go twin of cpu_scaling: 4 CPU-bound goroutines (~0.25 s of integer work each) with GOMAXPROCS 1 and 2 — wall ms for each and the speedup.
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
	jobs       = 4
	iterations = 128_000_000
	// The sum of the 4 results; the C++ programs compute the same function and check the same value.
	want uint64 = 3039457576464213688
)

// crunch is xorshift64* run for n steps: serial integer work the compiler cannot shortcut.
func crunch(x uint64, n int) uint64 {
	var acc uint64
	for i := 0; i < n; i++ {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		acc += x * 0x2545F4914F6CDD1D
	}
	return acc
}

func measure(procs int) float64 {
	runtime.GOMAXPROCS(procs)
	var wg sync.WaitGroup
	results := make([]uint64, jobs)
	start := time.Now()
	for j := 0; j < jobs; j++ {
		wg.Add(1)
		go func(j int) {
			defer wg.Done()
			results[j] = crunch(0x9E3779B97F4A7C15*uint64(j+1), iterations)
		}(j)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var sum uint64
	for _, r := range results {
		sum += r
	}
	if sum != want {
		fmt.Fprintf(os.Stderr, "cpu_scaling: checksum %d, want %d\n", sum, want)
		os.Exit(1)
	}
	return float64(elapsed.Nanoseconds()) / 1e6
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	reps := 5
	if *quick {
		reps = 3
	}
	var one, two []float64
	for r := 0; r < reps; r++ { // alternate so drift in machine load hits both alike
		one = append(one, measure(1))
		two = append(two, measure(2))
	}
	m1, m2 := median(one), median(two)
	fmt.Printf("bench cpu_scaling_1w go %.1f ms\n", m1)
	fmt.Printf("bench cpu_scaling_2w go %.1f ms\n", m2)
	fmt.Printf("bench cpu_speedup go %.2f x\n", m1/m2)
}
