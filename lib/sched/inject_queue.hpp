// Provides inject_queue: the global FIFO of runnable tasks, fed by local-queue overflow and
// by threads that are not workers, drained by every worker (Go's global run queue).
//
// A growable ring under one spin lock; `size_` mirrors the length so workers can skip the lock
// when it is empty. The ring's size is a power of two (indices are masked, not divided: a
// division per task was ~1 ns of every overflowing spawn); it grows by doubling and never
// shrinks, so a steady state does not allocate.
#pragma once

#include "sched/run_queue.hpp"

#include <weft/detail/spin_lock.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <vector>

namespace weft::detail {

class inject_queue {
public:
    void push(std::coroutine_handle<> task);
    void push_batch(void* const* tasks, std::size_t count);

    // Takes one task, or null.
    std::coroutine_handle<> pop() noexcept;
    // Takes up to `max` tasks: returns the first and pushes the rest into `dest` (the
    // caller's own run queue, which has room for them).
    std::coroutine_handle<> pop_into(run_queue& dest, std::size_t max) noexcept;

    bool empty() const noexcept {
        // Unsynchronized hint; the lock (or the parking protocol's barrier) gives the truth.
        return size_.load(std::memory_order_relaxed) == 0;
    }
    std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

    // Drops every queued task (shutdown: the frames are destroyed by the root walk).
    void clear() noexcept;

private:
    void grow();  // requires lock_
    // The ring position of the i-th oldest entry; requires lock_.
    std::size_t slot(std::size_t i) const noexcept { return (head_ + i) & (ring_.size() - 1); }

    // lock_ and size_ each start a cache line. Workers read size_ every 61 tasks (fairness)
    // and whenever their queue runs dry; with lock_, ring_ and size_ packed together that
    // load took ~2% of fib_fork's samples on 2 workers (perf), and none once separated.
    // A spin lock, not std::mutex: every critical section is a copy of at most 128 pointers
    // (growing the ring is rare: it never shrinks), and under contention std::mutex sleeps
    // in the kernel. Two workers of bench/sched_spawn_join.cpp (one overflowing, one
    // refilling) made ~1,200 futex calls per 1,000,000-task round with it, and none with
    // this lock.
    alignas(64) spin_lock lock_;                          // protects ring_, head_, count_; a leaf lock
    std::vector<void*> ring_ = std::vector<void*>(1024);  // guarded by lock_; size a power of two
    std::size_t head_ = 0;                                // guarded by lock_
    std::size_t count_ = 0;                               // guarded by lock_
    alignas(64) std::atomic<std::size_t> size_{0};        // == count_, written under lock_, read without it
};

}  // namespace weft::detail
