// Provides the Go twin of sleepers: 100,000 goroutines each sleeping 100 ms — wall ms until all are done, wake-up lateness p50 and p99, OS threads used — and the RSS growth per goroutine with 1,000,000 asleep (250,000 with -quick).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	sleepers = 100_000
	nap      = 100 * time.Millisecond
)

func rss() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sleepers:", err)
		os.Exit(1)
	}
	r, _ := strconv.ParseInt(strings.Fields(string(data))[1], 10, 64)
	return r * int64(os.Getpagesize())
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

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func percentileMs(sorted []time.Duration, p float64) float64 {
	rank := int(math.Ceil(p * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return float64(sorted[rank-1].Nanoseconds()) / 1e6
}

type result struct {
	wallMs, p50Ms, p99Ms float64
	threads              int
}

func round() result {
	lateness := make([]time.Duration, sleepers)
	var started int64
	var wg sync.WaitGroup
	wg.Add(sleepers)
	start := time.Now()
	for i := 0; i < sleepers; i++ {
		go func(i int) {
			atomic.AddInt64(&started, 1)
			t0 := time.Now()
			time.Sleep(nap)
			lateness[i] = time.Since(t0) - nap
			wg.Done()
		}(i)
	}
	for atomic.LoadInt64(&started) < sleepers && time.Since(start) < 60*time.Second {
		runtime.Gosched()
	}
	threadsParked := threads()
	wg.Wait()
	elapsed := time.Since(start)
	threadsAfter := threads()
	sort.Slice(lateness, func(a, b int) bool { return lateness[a] < lateness[b] })
	if lateness[0] < 0 {
		fmt.Fprintf(os.Stderr, "sleepers: a sleeper woke %v early\n", -lateness[0])
		os.Exit(1)
	}
	if threadsAfter > threadsParked {
		threadsParked = threadsAfter
	}
	return result{float64(elapsed.Nanoseconds()) / 1e6, percentileMs(lateness, 0.50), percentileMs(lateness, 0.99), threadsParked}
}

func memoryRound(memorySleepers int64) {
	var started, finished int64
	runtime.GC()
	rss0 := rss()
	start := time.Now()
	for i := int64(0); i < memorySleepers; i++ {
		go func() {
			atomic.AddInt64(&started, 1)
			time.Sleep(time.Hour) // still asleep when measured; the process exits under it
			atomic.AddInt64(&finished, 1)
		}()
	}
	for atomic.LoadInt64(&started) < memorySleepers {
		if time.Since(start) > 60*time.Second {
			fmt.Fprintf(os.Stderr, "sleepers: only %d of %d sleepers parked after 60 s\n", atomic.LoadInt64(&started), memorySleepers)
			os.Exit(1)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the last ones reach Sleep
	rss1 := rss()
	if atomic.LoadInt64(&finished) != 0 {
		fmt.Fprintln(os.Stderr, "sleepers: a one-hour sleeper woke")
		os.Exit(1)
	}
	fmt.Printf("bench sleepers_memory go %.0f bytes/unit\n", float64(rss1-rss0)/float64(memorySleepers))
}

// runChild measures the memory sleepers in a fresh process (this program with -memory), so
// they neither reuse the goroutines of the rounds above nor stay behind to slow them.
func runChild(quick bool) error {
	cmd := exec.Command(os.Args[0], "-memory", "-quick="+strconv.FormatBool(quick))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

func main() {
	quick := flag.Bool("quick", false, "fewer repetitions")
	memory := flag.Bool("memory", false, "internal: measure the 1,000,000 sleepers in this process")
	flag.Parse()
	if *memory {
		if *quick {
			memoryRound(250_000)
		} else {
			memoryRound(1_000_000)
		}
		return
	}
	reps := 5
	if *quick {
		reps = 3
	}
	round() // warm-up
	var wall, p50, p99 []float64
	maxThreads := 0
	for r := 0; r < reps; r++ {
		runtime.GC()
		res := round()
		wall = append(wall, res.wallMs)
		p50 = append(p50, res.p50Ms)
		p99 = append(p99, res.p99Ms)
		if res.threads > maxThreads {
			maxThreads = res.threads
		}
	}
	fmt.Printf("bench sleepers_wall go %.1f ms\n", median(wall))
	fmt.Printf("bench sleepers_lateness_p50 go %.2f ms\n", median(p50))
	fmt.Printf("bench sleep_lateness_p99 go %.2f ms\n", median(p99))
	fmt.Printf("bench sleepers_threads go %d threads\n", maxThreads)
	// The million sleepers stay asleep until their process exits: measure them in a child.
	if err := runChild(*quick); err != nil {
		fmt.Fprintln(os.Stderr, "sleepers: the memory measurement failed:", err)
		os.Exit(1)
	}
}
