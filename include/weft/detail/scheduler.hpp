// Provides the few scheduler entry points that weft's templates need (lib/sched/ implements them).
#pragma once

#include <coroutine>
#include <cstddef>

namespace weft::detail {

// Makes a suspended coroutine runnable. On a worker it goes to that worker's LIFO slot (it
// runs next, keeping a waker/wakee pair on one core); elsewhere to the global injection queue.
// Any thread. During run()'s shutdown it does nothing (the frame is destroyed by the shutdown).
void schedule(std::coroutine_handle<> task) noexcept;

// Puts a task behind everything already runnable (the injection queue): yield, timers.
void schedule_yield(std::coroutine_handle<> task) noexcept;
// Hands several tasks to the injection queue at once (one lock), then wakes a worker.
void schedule_batch(void* const* tasks, std::size_t count) noexcept;

// Collects wake-ups made on this thread while it lives (timer firing, channel close) and
// hands them to the scheduler in batches. Nests; not copyable.
class wake_batch {
public:
    wake_batch() noexcept;
    wake_batch(const wake_batch&) = delete;
    wake_batch& operator=(const wake_batch&) = delete;
    ~wake_batch();
    void add(std::coroutine_handle<> task) noexcept;
    // The innermost batch open on this thread, or null.
    static wake_batch* current() noexcept;

private:
    static constexpr std::size_t capacity = 128;
    void* tasks_[capacity];
    std::size_t count_ = 0;
    wake_batch* outer_;
};

// Makes a root frame runnable for the first time: marks it as a root (so shutdown can find it),
// counts it in num_tasks(), then schedules it. Throws std::logic_error if no runtime is running.
void start_root(std::coroutine_handle<> root);

// True while run() is destroying the tasks left over when the main task ended. Destructors of
// waiting awaiters use it to know that the structures they wait on may already be gone.
bool shutting_down() noexcept;

}  // namespace weft::detail
