// Provides sleeps and the public timers: timer, ticker, after, after_func.
#include <weft/runtime.hpp>
#include <weft/time.hpp>

#include <stdexcept>

namespace weft {
namespace detail {

void sleep_awaiter::await_suspend(std::coroutine_handle<> self) noexcept {
    if (deadline_ <= steady_clock::now()) {
        schedule_yield(self);  // a zero or past deadline still yields
        return;
    }
    node_.task = self;
    node_.fire = &sleep_awaiter::on_fire;
    armed_ = true;
    if (!timer_arm(node_, deadline_)) {  // no runtime: cannot happen inside a task
        armed_ = false;
        schedule_yield(self);
    }
}

void sleep_awaiter::on_fire(timer_node* n) noexcept {
    // Timers firing together wake in deadline order, in one batch, behind runnable tasks.
    const auto task = static_cast<node*>(n)->task;
    if (wake_batch* batch = wake_batch::current()) {
        batch->add(task);
    } else {
        schedule_yield(task);
    }
}

bool channel_timer::expire_locked(steady_clock::time_point now) noexcept {
    try {
        (void)channel_.try_send(now);  // a full channel (slow receiver) drops the tick
    } catch (...) {
        // The channel is never closed: unreachable.
    }
    if (period_ > steady_clock::duration::zero()) {
        // Next tick: one period after this one, or the first multiple of the period after
        // now if the receiver or the machine fell behind (missed ticks are dropped).
        steady_clock::time_point next = armed_deadline() + period_;
        if (next <= now) next += period_ * ((now - next) / period_ + 1);
        rearm_locked(next);
    }
    return false;
}

bool channel_timer::drain_locked() noexcept {
    return channel_.try_recv().has_value();
}

void task_timer::expire_unlocked() noexcept {
    try {
        start_();
    } catch (...) {
        // go() throws only without a runtime; a timer cannot fire then.
    }
}

void throw_no_runtime(const char* what) {
    throw std::logic_error(std::string(what) + ": no runtime is running (call it inside weft::run)");
}

void check_ticker_period(steady_clock::duration d) {
    if (d <= steady_clock::duration::zero()) throw std::invalid_argument("weft::ticker: non-positive period");
}

}  // namespace detail

timer::timer(saturating_duration d) {
    auto* state = new detail::channel_timer(steady_clock::duration::zero());
    state_ = detail::timer_ref{state};
    channel_ = state->channel();
    if (!state->start(detail::deadline_after(d.get()))) detail::throw_no_runtime("weft::timer");
}

timer& timer::operator=(timer&& other) noexcept {
    if (this != &other) {
        stop();
        state_ = std::move(other.state_);
        channel_ = std::move(other.channel_);
    }
    return *this;
}

timer::~timer() {
    stop();
}

bool timer::stop() noexcept {
    return state_.get() ? state_.get()->stop() : false;
}

bool timer::reset(saturating_duration d) {
    if (!state_.get()) throw std::logic_error("weft::timer::reset on a default-constructed timer");
    return state_.get()->reset(detail::deadline_after(d.get()));
}

ticker::ticker(saturating_duration p) {
    const auto period = p.get();
    detail::check_ticker_period(period);
    auto* state = new detail::channel_timer(period);
    state_ = detail::timer_ref{state};
    channel_ = state->channel();
    if (!state->start(detail::deadline_after(period))) detail::throw_no_runtime("weft::ticker");
}

ticker& ticker::operator=(ticker&& other) noexcept {
    if (this != &other) {
        stop();
        state_ = std::move(other.state_);
        channel_ = std::move(other.channel_);
    }
    return *this;
}

ticker::~ticker() {
    stop();
}

void ticker::stop() noexcept {
    if (state_.get()) state_.get()->stop();
}

void ticker::reset(saturating_duration p) {
    const auto period = p.get();
    detail::check_ticker_period(period);
    if (!state_.get()) throw std::logic_error("weft::ticker::reset on a default-constructed ticker");
    auto* state = static_cast<detail::channel_timer*>(state_.get());
    state->stop();
    state->set_period(period);  // no delivery can be in flight after stop()
    state->reset(detail::deadline_after(period));
}

recv_chan<steady_clock::time_point> after(saturating_duration d) {
    auto* state = new detail::channel_timer(steady_clock::duration::zero());
    detail::timer_ref ref{state};  // dropped on return: the wheel keeps it until it fires
    auto channel = state->channel();
    if (!state->start(detail::deadline_after(d.get()))) detail::throw_no_runtime("weft::after");
    return channel;
}

}  // namespace weft
