// Provides weft::task<T>: the lazy, move-only coroutine type every weft function returns.
//
//     weft::task<int> answer() { co_return 42; }
//     weft::task<> user() { int v = co_await answer(); }
//
// A task does nothing until awaited. `co_await t` starts it on the current worker by
// symmetric transfer (no stack growth however long a chain of synchronous awaits) and gives
// its value or rethrows its exception. A task may be awaited once; awaiting it again, or
// awaiting a moved-from task, throws std::logic_error. Frames come from weft's frame pool.
// Thread-safety: a task object is owned by one coroutine at a time, like a unique_ptr.
#pragma once

#include <weft/detail/promise.hpp>

#include <coroutine>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace weft {

template <class T = void>
class task;

namespace detail {

// Whether a task's value was constructed, for its destructor. A trivially destructible value
// needs no destructor call, and then no flag: that saves a store in every coroutine's start
// and end and up to 8 bytes of frame (bench/sched_fib_fork.cpp's frame: 88 -> 80 bytes).
struct no_value_flag {
    no_value_flag& operator=(bool) noexcept { return *this; }
    explicit operator bool() const noexcept { return false; }
};
template <class T>
using value_flag = std::conditional_t<std::is_trivially_destructible_v<T>, no_value_flag, bool>;

template <class T>
class task_promise_storage : public promise_base {
public:
    task_promise_storage() noexcept {}
    task_promise_storage(const task_promise_storage&) = delete;
    task_promise_storage& operator=(const task_promise_storage&) = delete;
    ~task_promise_storage() {
        if (has_value_) value_.~T();
    }
    template <class U = T>
    requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) noexcept(std::is_nothrow_convertible_v<U&&, T>) {
        ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<U>(value));
        has_value_ = true;
    }
    // Child mode (task<T>'s awaiter) and joinable mode (join_handle's awaiter).
    T take_result() {
        rethrow_if_failed();
        return std::move(value_);
    }
    T take_joined_result() {
        rethrow_if_join_failed();
        return std::move(value_);
    }

private:
    union {
        T value_;
    };
    [[no_unique_address]] value_flag<T> has_value_{};
};

template <class T>
class task_promise_storage<T&> : public promise_base {
public:
    void return_value(T& value) noexcept { value_ = std::addressof(value); }
    T& take_result() {
        rethrow_if_failed();
        return *value_;
    }
    T& take_joined_result() {
        rethrow_if_join_failed();
        return *value_;
    }

private:
    T* value_ = nullptr;
};

template <>
class task_promise_storage<void> : public promise_base {
public:
    void return_void() const noexcept {}
    void take_result() { rethrow_if_failed(); }
    void take_joined_result() { rethrow_if_join_failed(); }
};

template <class T>
class task_promise final : public task_promise_storage<T> {
    static_assert(alignof(task_promise_storage<T>) <= 16,
                  "weft::task<T>: a T aligned to more than 16 bytes is not supported");

public:
    task<T> get_return_object() noexcept;
};

[[noreturn]] void throw_bad_await(const char* what);

}  // namespace detail

template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type frame) noexcept : frame_(frame) {}
    task(task&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            if (frame_) frame_.destroy();
            frame_ = std::exchange(other.frame_, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() {
        if (frame_) frame_.destroy();
    }

    // True while the task holds a frame (not moved from).
    explicit operator bool() const noexcept { return static_cast<bool>(frame_); }

    class awaiter {
    public:
        explicit awaiter(handle_type frame) noexcept : frame_(frame) {}
        bool await_ready() const noexcept { return false; }
#if WEFT_INLINE_RESUME
        bool await_suspend(std::coroutine_handle<> caller) noexcept {
            return frame_.promise().resume_inline(frame_, caller);
        }
#else
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
            frame_.promise().set_continuation(caller);
            return frame_;  // symmetric transfer: no stack growth
        }
#endif
        T await_resume() {
            return frame_.promise().take_result();
        }

    private:
        handle_type frame_;
    };

    awaiter operator co_await() & {
        return awaiter{checked_frame()};
    }
    awaiter operator co_await() && {
        return awaiter{checked_frame()};
    }

    // Gives up ownership of the frame (used by go/spawn to turn it into a root).
    handle_type release() noexcept {
        return std::exchange(frame_, {});
    }

private:
    handle_type checked_frame() const {
        if (!frame_) detail::throw_bad_await("weft: co_await on an empty (moved-from) task");
        if (frame_.done()) detail::throw_bad_await("weft: task awaited twice");
        return frame_;
    }

    handle_type frame_;
};

template <class T>
task<T> detail::task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}

}  // namespace weft
