// Provides the Go twin of idle_memory: 1,000,000 goroutines blocked on a sync.WaitGroup — RSS and address-space growth per goroutine, the OS threads the process uses, and the RSS still held per goroutine once all have ended and debug.FreeOSMemory has run.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const units = 1_000_000

// statm returns the process's virtual size and resident set, in bytes.
func statm() (vm, rss int64) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle_memory:", err)
		os.Exit(1)
	}
	f := strings.Fields(string(data))
	page := int64(os.Getpagesize())
	v, _ := strconv.ParseInt(f[0], 10, 64)
	r, _ := strconv.ParseInt(f[1], 10, 64)
	return v * page, r * page
}

func threads() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := s.Text(); strings.HasPrefix(line, "Threads:") {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "Threads:")))
			return n
		}
	}
	return -1
}

func main() {
	flag.Bool("quick", false, "accepted for uniformity; the workload is the same")
	flag.Parse()

	var release, done sync.WaitGroup
	var parked, finished int64
	release.Add(1)
	done.Add(units)
	runtime.GC()
	vm0, rss0 := statm()
	start := time.Now()
	for i := 0; i < units; i++ {
		go func() {
			atomic.AddInt64(&parked, 1)
			release.Wait()
			atomic.AddInt64(&finished, 1)
			done.Done()
		}()
	}
	for atomic.LoadInt64(&parked) < units {
		if time.Since(start) > 60*time.Second {
			fmt.Fprintf(os.Stderr, "idle_memory: only %d of %d goroutines parked after 60 s\n", atomic.LoadInt64(&parked), units)
			os.Exit(1)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the last ones reach Wait
	vm1, rss1 := statm()
	nthreads := threads()
	release.Done()
	done.Wait()
	if got := atomic.LoadInt64(&finished); got != units {
		fmt.Fprintf(os.Stderr, "idle_memory: %d goroutines finished, want %d\n", got, units)
		os.Exit(1)
	}
	for runtime.NumGoroutine() > 1 {
		time.Sleep(time.Millisecond)
	}
	runtime.GC()
	debug.FreeOSMemory()
	_, rss2 := statm()
	kept := rss2 - rss0
	if kept < 0 {
		kept = 0
	}
	fmt.Printf("bench idle_memory go %.0f bytes/unit\n", float64(rss1-rss0)/units)
	fmt.Printf("bench idle_vmsize go %.0f bytes/unit\n", float64(vm1-vm0)/units)
	fmt.Printf("bench idle_kept go %.0f bytes/unit\n", float64(kept)/units)
	fmt.Printf("bench max_units go %d units\n", units)
	fmt.Printf("bench idle_threads go %d threads\n", nthreads)
}
