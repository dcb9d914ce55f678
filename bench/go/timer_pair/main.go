// Provides the Go twin of timer_pair: arming and cancelling one timer (t.Reset(time.Hour); t.Stop()) 2,000,000 times per round — ns per pair — and the lateness p99 of 200 single 1 ms sleeps on an otherwise idle runtime.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"time"
)

const (
	pairs       = 2_000_000
	shortSleeps = 200
	shortNap    = time.Millisecond
)

func pairRound() float64 {
	t := time.NewTimer(time.Hour)
	if !t.Stop() {
		fmt.Fprintln(os.Stderr, "timer_pair: Stop of a freshly armed timer returned false")
		os.Exit(1)
	}
	misses := 0
	start := time.Now()
	for i := 0; i < pairs; i++ {
		if t.Reset(time.Hour) { // stopped before: false
			misses++
		}
		if !t.Stop() { // armed by the Reset: true
			misses++
		}
	}
	elapsed := time.Since(start)
	if misses != 0 {
		fmt.Fprintf(os.Stderr, "timer_pair: %d Reset/Stop calls returned the wrong value\n", misses)
		os.Exit(1)
	}
	select {
	case <-t.C:
		fmt.Fprintln(os.Stderr, "timer_pair: a stopped timer delivered a value")
		os.Exit(1)
	default:
	}
	return float64(elapsed.Nanoseconds()) / pairs
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	flag.Parse()
	reps := 7
	if *quick {
		reps = 3
	}
	pairRound() // warm-up
	samples := make([]float64, 0, reps)
	for r := 0; r < reps; r++ {
		samples = append(samples, pairRound())
	}
	sort.Float64s(samples)
	fmt.Printf("bench timer_pair go %.1f ns\n", samples[len(samples)/2])

	late := make([]time.Duration, 0, shortSleeps)
	for i := 0; i < shortSleeps; i++ {
		t0 := time.Now()
		time.Sleep(shortNap)
		late = append(late, time.Since(t0)-shortNap)
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	if late[0] < 0 {
		fmt.Fprintf(os.Stderr, "timer_pair: a 1 ms sleep woke %v early\n", -late[0])
		os.Exit(1)
	}
	fmt.Printf("bench short_sleep_lateness_p50 go %.3f ms\n", float64(late[shortSleeps/2-1].Nanoseconds())/1e6)
	fmt.Printf("bench short_sleep_lateness_p99 go %.3f ms\n", float64(late[shortSleeps*99/100-1].Nanoseconds())/1e6)
}
