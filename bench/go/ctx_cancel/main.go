// Provides the Go twin of ctx_cancel: cancelling a context with 100,000 waiting goroutines (blocked in <-ctx.Done(), or in a select on ctx.Done() and a channel) until all have exited — ms from cancel() to the last waiter done.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const waiters = 100_000

type result struct{ totalMs, cancelMs float64 }

func round(inSelect bool) result {
	ctx, cancel := context.WithCancel(context.Background())
	work := make(chan int)
	var wg sync.WaitGroup
	var parked, wrong int64
	wg.Add(waiters)
	spawned := time.Now()
	for i := 0; i < waiters; i++ {
		if inSelect {
			go func() {
				atomic.AddInt64(&parked, 1)
				select {
				case <-ctx.Done():
					if ctx.Err() != context.Canceled {
						atomic.AddInt64(&wrong, 1)
					}
				case <-work:
					atomic.AddInt64(&wrong, 1)
				}
				wg.Done()
			}()
		} else {
			go func() {
				atomic.AddInt64(&parked, 1)
				<-ctx.Done()
				if ctx.Err() != context.Canceled {
					atomic.AddInt64(&wrong, 1)
				}
				wg.Done()
			}()
		}
	}
	for atomic.LoadInt64(&parked) < waiters {
		if time.Since(spawned) > 60*time.Second {
			fmt.Fprintf(os.Stderr, "ctx_cancel: only %d waiters parked after 60 s\n", atomic.LoadInt64(&parked))
			os.Exit(1)
		}
		runtime.Gosched()
	}
	time.Sleep(5 * time.Millisecond) // let the last ones get from the counter to their wait

	start := time.Now()
	cancel()
	returned := time.Now()
	wg.Wait()
	finished := time.Now()
	if n := atomic.LoadInt64(&wrong); n != 0 {
		fmt.Fprintf(os.Stderr, "ctx_cancel: %d waiters woke without context.Canceled\n", n)
		os.Exit(1)
	}
	return result{float64(finished.Sub(start).Nanoseconds()) / 1e6, float64(returned.Sub(start).Nanoseconds()) / 1e6}
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
	for _, inSelect := range []bool{false, true} {
		round(inSelect) // warm-up
		var total, call []float64
		for r := 0; r < reps; r++ {
			runtime.GC()
			res := round(inSelect)
			total = append(total, res.totalMs)
			call = append(call, res.cancelMs)
		}
		suffix := ""
		if inSelect {
			suffix = "_select"
		}
		fmt.Printf("bench ctx_cancel%s go %.2f ms\n", suffix, median(total))
		fmt.Printf("bench ctx_cancel_call%s go %.2f ms\n", suffix, median(call))
	}
}
