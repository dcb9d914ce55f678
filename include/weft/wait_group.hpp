// Provides weft::wait_group, Go's sync.WaitGroup for tasks.
//
//     weft::wait_group wg;
//     for (int i = 0; i < n; ++i) wg.go(work, i);     // add(1) + go + done() at the end
//     co_await wg.wait();
//
// add(n) / done() from any thread; any number of tasks may `co_await wg.wait()`. A counter
// that goes negative throws std::logic_error("weft: negative wait_group counter"). As in Go,
// add() calls that start a new round must happen after the previous round's waits returned.
// Destroying the group right after `co_await wg.wait()` returns is safe: done() never touches
// the group after the decrement that releases the waiters has completed its wake-up.
#pragma once

#include <weft/detail/invoke_owned.hpp>
#include <weft/detail/scheduler.hpp>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <utility>

namespace weft {

class wait_group {
public:
    wait_group() noexcept = default;
    wait_group(const wait_group&) = delete;
    wait_group& operator=(const wait_group&) = delete;
    ~wait_group();

    // Adds `delta` (may be negative) to the counter; at zero, releases every waiter.
    void add(std::int64_t delta);
    void done() {
        // Fast path, the counter staying above zero: one CAS, no call. The rest (the
        // releasing done(), a negative counter) is add()'s.
        std::int64_t state = state_.load(std::memory_order_relaxed);
        // acq_rel: as in add() (the work before this done() is published to the waiters).
        if (state >= 2 * counter_one &&
            state_.compare_exchange_weak(state, state - counter_one, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
            return;
        add(-1);
    }

    // The current counter (for tests and diagnostics).
    std::int64_t count() const noexcept;

    class waiter;
    // Completes when the counter is zero.
    waiter wait() noexcept;

    // add(1), then go(f, args...) with done() called when the task ends, even by exception.
    // A task destroyed by run()'s shutdown does not call done().
    template <class F, class... Args>
    requires detail::task_callable<F, Args...>
    void go(F&& f, Args&&... args) {
        auto frame = detail::make_owned_task(std::forward<F>(f), std::forward<Args>(args)...).release();
        add(1);
        frame.promise().make_detached(this);
        detail::start_root(frame);
    }

    class waiter {
    public:
        explicit waiter(wait_group& group) noexcept : group_(reinterpret_cast<std::uintptr_t>(&group)) {}
        waiter(const waiter&) = delete;
        waiter& operator=(const waiter&) = delete;
        ~waiter();
        bool await_ready() const noexcept;
        bool await_suspend(std::coroutine_handle<> self) noexcept;
        void await_resume() const noexcept {}

    private:
        friend class wait_group;
        static constexpr std::uintptr_t linked_bit = 1;
        wait_group& group() const noexcept { return *reinterpret_cast<wait_group*>(group_ & ~linked_bit); }
        // The group's address, with linked_bit set while this waiter is in its list (the bit
        // is guarded by the group's list_lock_); 0 if the group was destroyed first
        // (shutdown). One word rather than a pointer and a bool: a task parked in wait()
        // carries this waiter in its frame, and the bool's padding took it from the frame
        // pool's 80-byte class to the 96-byte one (bench/sched_idle_memory.cpp).
        std::uintptr_t group_;
        waiter* next_ = nullptr;  // guarded by the group's list_lock_
        std::coroutine_handle<> task_;
    };

private:
    // State word, all changes by CAS or RMW:
    //   bits 63..2  the counter (signed, shifted left by 2)
    //   bit 1       waking: a done() is handing the waiter list to the scheduler
    //   bit 0       has_waiters: `waiters_` is non-empty
    // Written by add()/waiters; read by wait()'s fast path. The acquire/release on it orders
    // the work before each done() before the waiters' resumption.
    std::atomic<std::int64_t> state_{0};
    static constexpr std::int64_t counter_one = 4;  // the counter's unit in state_
    // Protects waiters_ and each waiter's next_ and linked_bit. Taken by waiters registering, by the
    // done() that releases them, and by shutdown's unlinking. Innermost lock: nothing is
    // acquired while it is held.
    std::atomic<bool> list_lock_{false};
    waiter* waiters_ = nullptr;  // guarded by list_lock_

    void lock_list() noexcept;
    void unlock_list() noexcept;
    void wait_while_waking() const noexcept;
    void release_waiters() noexcept;
};

inline wait_group::waiter wait_group::wait() noexcept {
    return waiter{*this};
}

}  // namespace weft
