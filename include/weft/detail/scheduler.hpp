// Provides the few scheduler entry points that weft's templates need (lib/sched/ implements them).
#pragma once

#include <coroutine>

namespace weft::detail {

// Makes a suspended coroutine runnable. On a worker it goes to that worker's LIFO slot (it
// runs next, keeping a waker/wakee pair on one core); elsewhere to the global injection queue.
// Any thread. During run()'s shutdown it does nothing (the frame is destroyed by the shutdown).
void schedule(std::coroutine_handle<> task) noexcept;

// Makes a root frame runnable for the first time: marks it as a root (so shutdown can find it),
// counts it in num_tasks(), then schedules it. Throws std::logic_error if no runtime is running.
void start_root(std::coroutine_handle<> root);

// True while run() is destroying the tasks left over when the main task ended. Destructors of
// waiting awaiters use it to know that the structures they wait on may already be gone.
bool shutting_down() noexcept;

}  // namespace weft::detail
