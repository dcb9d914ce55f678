// Provides worker: one OS thread running tasks from its LIFO slot, its run queue, the
// injection queue and its victims' queues (see worker.cpp for the loop and its rules).
#pragma once

#include "sched/idle.hpp"
#include "sched/run_queue.hpp"

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>

namespace weft::detail {

class runtime;

class worker {
public:
    // `workers`: how many the runtime has (with one, nobody steals from this one's queue).
    worker(runtime& rt, unsigned index, unsigned workers) noexcept;

    // Runs tasks until the runtime stops. Called on the worker's own thread.
    void run() noexcept;

    // Owner thread only: a task woken by the running task; it runs next (LIFO slot).
    void schedule_next(std::coroutine_handle<> task) noexcept {
        if (lifo_) push_stealable(lifo_);
        lifo_ = task;
    }
    // Owner thread only: a task just spawned; it goes to the stealable run queue.
    void schedule_spawned(std::coroutine_handle<> task) noexcept { push_stealable(task); }

    // Parking (used by idle_set under its lock, and by the wake-up side).
    // Both under idle_set's lock, so a wake-up always belongs to the current park.
    void prepare_park() noexcept { wake_word_.store(0, std::memory_order_relaxed); }
    void mark_woken() noexcept { wake_word_.store(1, std::memory_order_release); }
    // After the lock: the futex wake (a stale one is harmless: the waiter re-checks the word).
    void wake() noexcept;
    // The wheel tick this worker sleeps until: 0 while it runs, `never` if parked without
    // a timeout. Written by the worker (seq_cst: the store half of the Dekker pair with
    // timer arming, see timer_service::arm); read by runtime::timer_armed.
    std::uint64_t parked_until() const noexcept { return parked_until_.load(std::memory_order_seq_cst); }

    run_queue& queue() noexcept { return queue_; }
    unsigned index() const noexcept { return index_; }

    // Task accounting for num_tasks(): written only by this worker, read by anyone (see
    // live_tasks in runtime.cpp for why finishes are read first).
    void count_started() noexcept {
        started_.store(started_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    // Finishes are counted by note_root_finished (promise.hpp) through t_finished_roots,
    // which points here while this worker's loop runs.
    std::atomic<std::uint64_t>& finished_count() noexcept { return finished_; }
    std::uint64_t started() const noexcept { return started_.load(std::memory_order_relaxed); }
    // acquire: pairs with note_root_finished's release.
    std::uint64_t finished() const noexcept { return finished_.load(std::memory_order_acquire); }

    // Drops queued handles (shutdown; their frames are destroyed by the root walk).
    void discard_queued() noexcept;

    // Any thread: a remote half of a light join ran for a task spawned here (join.cpp).
    void count_remote_join() noexcept { remote_joins_.fetch_add(1, std::memory_order_relaxed); }

    // Any thread (runtime::stop): the worker leaves its loop after the task it is running.
    void request_stop() noexcept { stop_requested_.store(true, std::memory_order_release); }

private:
    // Polled between tasks. Acquire: pairs with request_stop's release (what the stopping
    // thread wrote before is visible to the shutdown that follows).
    bool stopping() const noexcept { return stop_requested_.load(std::memory_order_acquire); }
    std::coroutine_handle<> next_local() noexcept;
    std::coroutine_handle<> on_periodic_tick() noexcept;
    std::coroutine_handle<> next_after_lifo_streak() noexcept;
    std::coroutine_handle<> next_from_inject() noexcept;
    std::coroutine_handle<> take_starved_oldest() noexcept;
    // The hot path of every spawn and of every LIFO displacement: inline, and every other
    // path a tail call (push_contended; notify_one's wake), so that the fast path saves no
    // registers: start_root's pushes and pops of callee-saved registers were 8 of its 36
    // instructions per spawn (callgrind, bench/sched_fib_fork.cpp on one worker).
    void push_stealable(std::coroutine_handle<> task) noexcept {
        queue_is_inject_batch_ = false;
        if (!queue_.try_push(task)) [[unlikely]]
            return push_contended(task);
        idle_.notify_one();
    }
    // A full queue, or a light steal in the way: push, overflowing if full, then notify.
    void push_contended(std::coroutine_handle<> task) noexcept;
    void push_overflowing(std::coroutine_handle<> task) noexcept;
    void adapt_light_joins() noexcept;
    std::coroutine_handle<> steal() noexcept;
    std::coroutine_handle<> search() noexcept;
    std::coroutine_handle<> spin() noexcept;
    void park() noexcept;
    bool fire_timers(bool all) noexcept;
    bool any_work_visible() const noexcept;
    std::uint32_t random() noexcept;

    runtime& rt_;
    idle_set& idle_;  // rt_.idle(), read on every spawn
    const unsigned index_;
    run_queue queue_;
    std::coroutine_handle<> lifo_;      // owner only
    std::uint32_t lifo_streak_ = 0;     // owner only: consecutive LIFO runs
    std::uint32_t countdown_ = 1;       // owner only: tasks until the next periodic tick
    std::uint32_t countdown_span_ = 1;  // owner only: what countdown_ was last set to
    std::uint64_t ticks_ = 0;           // owner only: tasks taken, counted at periodic ticks
    // Owner only: the oldest local task at the last fairness tick, and when a later tick
    // first saw it still there (take_starved_oldest).
    run_queue::oldest_entry oldest_;
    std::chrono::steady_clock::time_point oldest_since_;
    // Owner only: every task in queue_ came, in FIFO order, from one batch of the injection
    // queue (set when an empty queue is refilled from it; cleared by any other push, and by
    // a steal). The fairness tick then leaves the injection queue alone (on_periodic_tick).
    bool queue_is_inject_batch_ = false;
    std::uint32_t rng_;       // owner only
    bool searching_ = false;  // owner only: counted as a searcher in idle_set
    // Light joins for the tasks spawned here (adapt_light_joins): remote halves counted by
    // other threads (relaxed: a rate, ordering nothing), and the owner's view of them.
    std::atomic<std::uint64_t> remote_joins_{0};
    std::uint64_t seen_remote_joins_ = 0;    // owner only
    std::uint32_t light_join_quiet_ = 0;     // owner only: ticks since the last remote half
    std::uint32_t light_join_on_ticks_ = 0;  // owner only: ticks since light joins went on
    std::uint32_t light_join_pause_ = 16;    // owner only: quiet ticks before they go on again
    // Written once by runtime::stop, read by the owner between tasks: here rather than in
    // the runtime, so the check per task is one compare on the worker's own line.
    std::atomic<bool> stop_requested_{false};
    // Futex word: 0 while parked, 1 once woken. Written by the waker (release), read by the
    // sleeper (acquire) so the wake-up's cause is visible.
    alignas(64) std::atomic<std::uint32_t> wake_word_{0};
    std::atomic<std::uint64_t> parked_until_{0};
    std::atomic<std::uint64_t> started_{0};   // written by this worker only
    std::atomic<std::uint64_t> finished_{0};  // written by this worker only
};

}  // namespace weft::detail
