// Provides weft::go (Go's `go f(args)`), weft::spawn and weft::join_handle.
//
//     weft::go(worker, id, std::ref(wg));                 // detached
//     auto h = weft::spawn([]() -> weft::task<int> { co_return 7; });
//     int seven = co_await h;                             // value, or rethrows
//
// `f` is any callable returning weft::task<R>. `f` and `args` are decay-copied into the new
// task's own frame before go/spawn return and passed to `f` as rvalues (like std::thread):
// a lambda with captures is safe as a temporary; to share an object pass std::ref(obj).
// The task starts on a worker soon after; go/spawn never run it inline.
// An exception escaping a `go` task is a panic (see runtime.hpp, set_panic_handler).
// Both may be called from any thread while a runtime is running; otherwise they throw
// std::logic_error.
#pragma once

#include <weft/detail/invoke_owned.hpp>
#include <weft/detail/scheduler.hpp>
#include <weft/task.hpp>

#include <coroutine>
#include <utility>

namespace weft {

template <class F, class... Args>
requires detail::task_callable<F, Args...>
void go(F&& f, Args&&... args) {
    auto frame = detail::make_owned_task(std::forward<F>(f), std::forward<Args>(args)...).release();
    frame.promise().make_detached();
    detail::start_root(frame);
}

// The awaitable result of spawn(). Move-only; awaiting it (once, as lvalue or rvalue) gives
// the task's value or rethrows its exception. Dropping it detaches the task; an exception
// that then has nobody to go to is a panic, as in a `go` task.
template <class T>
class [[nodiscard]] join_handle {
public:
    using handle_type = typename task<T>::handle_type;

    join_handle() noexcept = default;
    explicit join_handle(handle_type frame) noexcept : frame_(frame) {}
    join_handle(join_handle&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
    join_handle& operator=(join_handle&& other) noexcept {
        if (this != &other) {
            if (frame_) drop();
            frame_ = std::exchange(other.frame_, {});
        }
        return *this;
    }
    ~join_handle() {
        if (frame_) [[unlikely]]  // an awaited handle is empty
            drop();
    }

    // True until the handle is awaited, moved from, or default-constructed.
    bool joinable() const noexcept { return static_cast<bool>(frame_); }

    class awaiter {
    public:
        explicit awaiter(join_handle& owner) noexcept : owner_(owner) {}
        bool await_ready() const noexcept { return owner_.frame_.promise().is_completed(); }
        bool await_suspend(std::coroutine_handle<> joiner) noexcept {
            return owner_.frame_.promise().try_register_joiner(joiner);
        }
        T await_resume() {
            struct destroy_at_exit {
                handle_type frame;
                ~destroy_at_exit() { detail::destroy_root(frame); }
            } finished{std::exchange(owner_.frame_, {})};
            return finished.frame.promise().take_joined_result();
        }

    private:
        join_handle& owner_;
    };

    awaiter operator co_await() & { return awaiter{checked()}; }
    awaiter operator co_await() && { return awaiter{checked()}; }

private:
    join_handle& checked() {
        if (!frame_) detail::throw_bad_await("weft: co_await on an empty join_handle");
        return *this;
    }
    // Out of line: every coroutine holding a handle destroys it, almost always empty, and
    // the drop's paths inlined there cost registers saved in every such frame's destroy.
    [[gnu::noinline]] void drop() noexcept {
        if (detail::shutting_down()) return;
        auto frame = std::exchange(frame_, {});
        if (frame.promise().drop_handle()) {
            // Completed and never collected: we own the frame.
            detail::finish_root(frame, frame.promise().take_join_failure(), nullptr);
        }
    }

    handle_type frame_;
};

template <class F, class... Args>
requires detail::task_callable<F, Args...>
auto spawn(F&& f, Args&&... args) -> join_handle<typename detail::owned_result_t<F, Args...>::value_type> {
    using value = typename detail::owned_result_t<F, Args...>::value_type;
    auto frame = detail::make_owned_task(std::forward<F>(f), std::forward<Args>(args)...).release();
    frame.promise().make_joinable();
    detail::start_root(frame);
    return join_handle<value>{frame};
}

}  // namespace weft
