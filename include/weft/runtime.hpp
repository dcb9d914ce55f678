// Provides the runtime's entry point and controls: run, options, maxprocs, num_tasks, yield,
// set_panic_handler, free_os_memory.
//
//     weft::task<int> async_main() { co_return 0; }
//     int main() { return weft::run(async_main); }
//
// run() turns the calling thread into worker 0 of a pool of maxprocs() workers, runs
// `f(args...)` (decay-copied like go()) as the main task, and returns its value or rethrows
// its exception once it ends. Tasks still alive then are destroyed, not resumed: their
// destructors run and their frames are freed, as Go's exit ends its goroutines. run() may be
// called again afterwards; calling it from inside a task throws std::logic_error.
#pragma once

#include <weft/detail/invoke_owned.hpp>
#include <weft/detail/scheduler.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

namespace weft {

struct options {
    // Worker threads; 0 means: WEFT_MAXPROCS if set, else the CPUs this process may use
    // (affinity mask and cgroup CPU quota, rounded up, at least 1).
    unsigned workers = 0;
};

// Workers of the running runtime, or what run() would start with default options.
unsigned maxprocs() noexcept;

// Live tasks (go, spawn, the main task), like Go's runtime.NumGoroutine(). Any thread. A
// snapshot: while tasks start and end concurrently it may briefly include some that were just
// ending, never miss ones that are running or parked throughout the call.
std::size_t num_tasks() noexcept;

// Go's debug.FreeOSMemory(): returns to the OS the memory of task frames (and channel,
// context and timer states) that are free now, and gives back the number of bytes.
//
//     co_await burst.wait();                         // a million tasks have just ended
//     std::size_t released = weft::free_os_memory();
//
// weft also does this by itself, at most once a second when a worker runs out of work and
// the pool holds 4 MiB or more of free frames, and when run() ends. Memory comes back in
// 64 KiB slabs whose every frame is free; frames cached by other workers (at most two
// magazines of about 64 KiB per frame size each) stay with them. Never throws. Any thread,
// with or without a runtime running.
std::size_t free_os_memory() noexcept;

// Called with the exception that escaped a `go` task, instead of printing
// "weft: panic in task: ..." and aborting. Returns the previous handler (empty: the default).
// The handler runs on the worker that ran the task and must not throw. Any thread.
using panic_handler = std::function<void(std::exception_ptr)>;
panic_handler set_panic_handler(panic_handler handler);

namespace detail {
void run_main(const options& opts, std::coroutine_handle<> main_root);
void request_stop() noexcept;

template <class T>
struct main_outcome {
    std::optional<T> value;
    std::exception_ptr error;
    T get() {
        if (error) std::rethrow_exception(error);
        return std::move(*value);
    }
};
template <>
struct main_outcome<void> {
    std::exception_ptr error;
    void get() const {
        if (error) std::rethrow_exception(error);
    }
};

template <class T, class F, class... Args>
task<> main_entry(main_outcome<T>& outcome, F f, Args... args) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::invoke(std::move(f), std::move(args)...);
        } else {
            outcome.value.emplace(co_await std::invoke(std::move(f), std::move(args)...));
        }
    } catch (...) {
        outcome.error = std::current_exception();
    }
    request_stop();
}
}  // namespace detail

template <class F, class... Args>
requires detail::task_callable<F, Args...>
auto run(const options& opts, F&& f, Args&&... args) {
    using value = typename detail::owned_result_t<F, Args...>::value_type;
    detail::main_outcome<value> outcome;
    auto frame = detail::main_entry<value, std::decay_t<F>, std::decay_t<Args>...>(outcome, std::forward<F>(f),
                                                                                   std::forward<Args>(args)...)
                     .release();
    frame.promise().make_detached();
    detail::run_main(opts, frame);
    return outcome.get();
}

template <class F, class... Args>
requires detail::task_callable<F, Args...>
auto run(F&& f, Args&&... args) {
    return run(options{}, std::forward<F>(f), std::forward<Args>(args)...);
}

// Go's runtime.Gosched(): `co_await weft::yield();` puts this task on the global run queue,
// behind the tasks already runnable, so they run first.
inline auto yield() noexcept {
    struct awaiter {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> self) const noexcept { detail::schedule_yield(self); }
        void await_resume() const noexcept {}
    };
    return awaiter{};
}

}  // namespace weft
