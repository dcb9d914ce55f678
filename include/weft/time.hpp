// Provides Go's time package for tasks: sleep_for, sleep_until, after, timer, ticker,
// after_func.
//
//     co_await weft::sleep_for(50ms);                       // parks the task, holds no thread
//     auto r = co_await weft::select(weft::recv(results), weft::recv(weft::after(1s)));
//     weft::ticker t(100ms);  co_await t.c().recv();  t.stop();
//
// Timers never fire before their deadline; on an idle machine they fire within about
// 0.3 ms after it (the wheel ticks every 250 us). Timer and ticker channels follow Go 1.23:
// "fired" means "its value was received", and once stop() or reset() returns no stale value
// can be received. A timer or ticker destroyed while armed stops itself. Everything here
// needs a running runtime (inside weft::run); constructors throw std::logic_error otherwise.
// Durations too large for the clock saturate (sleep_for(hours::max()) sleeps "forever").
#pragma once

#include <weft/chan.hpp>
#include <weft/detail/invoke_owned.hpp>
#include <weft/detail/timer_node.hpp>
#include <weft/detail/timer_state.hpp>
#include <weft/go.hpp>

#include <chrono>
#include <coroutine>
#include <functional>
#include <memory>
#include <utility>

namespace weft {

using steady_clock = std::chrono::steady_clock;

namespace detail {

class sleep_awaiter {
public:
    explicit sleep_awaiter(steady_clock::time_point deadline) noexcept : deadline_(deadline) {}
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter() {
        if (armed_) timer_cancel(node_);  // destroyed while sleeping (shutdown)
    }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> self) noexcept;
    void await_resume() noexcept { armed_ = false; }

private:
    struct node : timer_node {
        std::coroutine_handle<> task;
    };
    static void on_fire(timer_node* n) noexcept;

    steady_clock::time_point deadline_;
    node node_;
    bool armed_ = false;
};

// A timer that delivers on a channel of capacity 1 (ticker: drops ticks nobody took).
class channel_timer final : public timer_state {
public:
    explicit channel_timer(steady_clock::duration period)
        : period_(period), channel_(make_chan<steady_clock::time_point>(1)) {}
    const chan<steady_clock::time_point>& channel() const noexcept { return channel_; }
    void set_period(steady_clock::duration period) noexcept { period_ = period; }

private:
    bool expire_locked(steady_clock::time_point now) noexcept override;
    bool drain_locked() noexcept override;

    steady_clock::duration period_;  // zero for a one-shot timer; guarded by the base's lock
    chan<steady_clock::time_point> channel_;
};

// A timer that starts a task (after_func).
class task_timer final : public timer_state {
public:
    explicit task_timer(std::function<void()> start) : start_(std::move(start)) {}

private:
    bool expire_locked(steady_clock::time_point) noexcept override { return true; }
    void expire_unlocked() noexcept override;
    std::function<void()> start_;
};

// Owns one reference to a timer_state.
class timer_ref {
public:
    timer_ref() noexcept = default;
    explicit timer_ref(timer_state* adopted) noexcept : state_(adopted) {}
    timer_ref(timer_ref&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    timer_ref& operator=(timer_ref&& other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~timer_ref() {
        if (state_) state_->release();
    }
    timer_state* get() const noexcept { return state_; }

private:
    timer_state* state_ = nullptr;
};

[[noreturn]] void throw_no_runtime(const char* what);
void check_ticker_period(steady_clock::duration d);

}  // namespace detail

// Parks the task for `d` (Go's time.Sleep). Zero or negative durations still yield.
inline detail::sleep_awaiter sleep_for(saturating_duration d) noexcept {
    return detail::sleep_awaiter{detail::deadline_after(d.get())};
}
// Parks the task until `deadline`. A deadline already passed still yields.
inline detail::sleep_awaiter sleep_until(steady_clock::time_point deadline) noexcept {
    return detail::sleep_awaiter{deadline};
}

// Go's time.Timer: fires once, delivering the time on c().
class timer {
public:
    timer() noexcept = default;  // inert: c() is nil, stop() returns false
    explicit timer(saturating_duration d);
    timer(timer&&) noexcept = default;
    timer& operator=(timer&& other) noexcept;
    ~timer();

    // The channel the fire time is delivered on (nil for after_func timers).
    recv_chan<steady_clock::time_point> c() const noexcept { return channel_; }
    // True if this call prevented the delivery (the timer was armed, or its value not yet
    // received); false if it had already been received or stopped.
    bool stop() noexcept;
    // Stops, then arms again for `d` from now. Returns what stop() would have.
    bool reset(saturating_duration d);

private:
    template <class F, class... Args>
    friend timer after_func(saturating_duration d, F&& f, Args&&... args);
    explicit timer(detail::timer_ref state, chan<steady_clock::time_point> channel) noexcept
        : state_(std::move(state)), channel_(std::move(channel)) {}

    detail::timer_ref state_;
    chan<steady_clock::time_point> channel_;
};

// Go's time.Ticker: delivers the time every period on c(), dropping ticks a slow receiver
// did not take. Throws std::invalid_argument for a period <= 0.
class ticker {
public:
    ticker() noexcept = default;
    explicit ticker(saturating_duration period);
    ticker(ticker&&) noexcept = default;
    ticker& operator=(ticker&& other) noexcept;
    ~ticker();

    recv_chan<steady_clock::time_point> c() const noexcept { return channel_; }
    // No more ticks are delivered once stop() returns (a pending one is taken back).
    void stop() noexcept;
    // Stops, then ticks every `period` from now. Throws std::invalid_argument if <= 0.
    void reset(saturating_duration period);

private:
    detail::timer_ref state_;
    chan<steady_clock::time_point> channel_;
};

// Go's time.After: a channel that receives the time once, after `d`.
recv_chan<steady_clock::time_point> after(saturating_duration d);

// Go's time.AfterFunc: runs f(args...) as a new task after `d` (f may return a task or not;
// arguments are copied as by go()). The timer's c() is nil; stop() prevents the call.
template <class F, class... Args>
timer after_func(saturating_duration d, F&& f, Args&&... args) {
    std::function<void()> start;
    if constexpr (detail::task_callable<F, Args...>) {
        start = [f = std::decay_t<F>(std::forward<F>(f)), ... a = std::decay_t<Args>(std::forward<Args>(args))]() {
            go(f, a...);
        };
    } else {
        static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                      "weft::after_func: f must be callable with the arguments");
        start = [f = std::decay_t<F>(std::forward<F>(f)), ... a = std::decay_t<Args>(std::forward<Args>(args))]() {
            go(
                [](std::decay_t<F> fn, std::decay_t<Args>... xs) -> task<> {
                    std::invoke(std::move(fn), std::move(xs)...);
                    co_return;
                },
                f, a...);
        };
    }
    auto* state = new detail::task_timer(std::move(start));
    detail::timer_ref ref{state};
    if (!state->start(detail::deadline_after(d.get()))) detail::throw_no_runtime("weft::after_func");
    return timer{std::move(ref), chan<steady_clock::time_point>{}};
}

}  // namespace weft
