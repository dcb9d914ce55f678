// Provides the Go twin of chan_frame_size: 1,000,000 goroutines parked in a channel receive, then 1,000,000 parked in a 3-case select (250,000 with -quick) — RSS growth per parked goroutine.
//
// Each kind is measured in a fresh process (this program runs itself with -kind), so the
// second one does not reuse the goroutines and stacks the first one left in the runtime's free lists.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rss returns the process's resident set, in bytes.
func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chan_frame_size:", err)
		os.Exit(1)
	}
	r, _ := strconv.ParseInt(strings.Fields(string(data))[1], 10, 64)
	return r * int64(os.Getpagesize())
}

func measure(kind string, units int) {
	a, b, c := make(chan int), make(chan int), make(chan int)
	var done sync.WaitGroup
	var parked, finished, wrong int64
	done.Add(units)
	runtime.GC()
	rss0 := rss()
	start := time.Now()
	for i := 0; i < units; i++ {
		if kind == "select3" {
			go func() {
				atomic.AddInt64(&parked, 1)
				select {
				case _, ok := <-a:
					if ok {
						atomic.AddInt64(&wrong, 1)
					}
				case <-b:
					atomic.AddInt64(&wrong, 1)
				case <-c:
					atomic.AddInt64(&wrong, 1)
				}
				atomic.AddInt64(&finished, 1)
				done.Done()
			}()
		} else {
			go func() {
				atomic.AddInt64(&parked, 1)
				if _, ok := <-a; ok {
					atomic.AddInt64(&wrong, 1)
				}
				atomic.AddInt64(&finished, 1)
				done.Done()
			}()
		}
	}
	for atomic.LoadInt64(&parked) < int64(units) {
		if time.Since(start) > 60*time.Second {
			fmt.Fprintf(os.Stderr, "chan_frame_size: only %d %s goroutines parked after 60 s\n", atomic.LoadInt64(&parked), kind)
			os.Exit(1)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the last ones reach the receive
	rss1 := rss()
	close(a)
	done.Wait()
	if atomic.LoadInt64(&finished) != int64(units) || atomic.LoadInt64(&wrong) != 0 {
		fmt.Fprintf(os.Stderr, "chan_frame_size: %s: %d goroutines finished (want %d), %d woke with a value or the wrong case\n",
			kind, atomic.LoadInt64(&finished), units, atomic.LoadInt64(&wrong))
		os.Exit(1)
	}
	fmt.Printf("bench parked_%s_memory go %.0f bytes/unit\n", kind, float64(rss1-rss0)/float64(units))
}

func main() {
	quick := flag.Bool("quick", false, "250,000 goroutines instead of 1,000,000")
	kind := flag.String("kind", "", "internal: measure one kind (recv or select3) in this process")
	flag.Parse()
	units := 1_000_000
	if *quick {
		units = 250_000
	}
	if *kind != "" {
		measure(*kind, units)
		return
	}
	for _, k := range []string{"recv", "select3"} {
		cmd := exec.Command(os.Args[0], "-kind", k, "-quick="+strconv.FormatBool(*quick))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "chan_frame_size: the %s measurement failed: %v\n", k, err)
			os.Exit(1)
		}
	}
}
