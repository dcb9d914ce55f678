// Provides weft::chan<T>, Go's channels: make_chan, send/recv, close, and the directional
// views send_chan<T> (Go's chan<- T) and recv_chan<T> (Go's <-chan T).
//
//     auto jobs = weft::make_chan<int>(100);          // buffered; make_chan<int>() is unbuffered
//     co_await jobs.send(21);                         // parks while the buffer is full
//     while (auto j = co_await jobs.recv()) use(*j);  // nullopt once closed and drained
//
// A chan is a cheap, copyable handle to shared state (Go's reference semantics); every
// operation may be called from any task or thread. A default-constructed chan is the nil
// channel: send and recv on it block forever, close throws, select never picks its cases.
// T may be move-only; an empty T (weft::unit, std::monostate) takes no buffer storage.
//
// Errors (weft::channel_closed, a std::logic_error, with Go's words):
//   send (or try_send) on a closed channel, including a sender parked when close happens:
//   "send on closed channel"; close of a closed channel: "close of closed channel"; close
//   of the nil channel: "close of nil channel".
//
// Memory model (Go's): a send happens-before the receive that gets its value completes;
// close happens-before a receive that returns nullopt because of it; for an unbuffered
// channel, a receive happens-before the matching send completes; the k-th receive on a
// channel of capacity C happens-before the (k+C)-th send completes.
#pragma once

#include <weft/detail/chan_ops.hpp>
#include <weft/detail/chan_state.hpp>
#include <weft/task.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

namespace weft {

class channel_closed : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

// The element type for channels that carry no data (Go's chan struct{}).
struct unit {
    friend constexpr bool operator==(unit, unit) noexcept { return true; }
};

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

// What `co_await ch.recv(ctx)` gives: the value (nullopt if the channel is closed and
// drained, or the context ended first), and the context's error if it ended first.
template <class T>
struct recv_result {
    std::optional<T> value;
    std::error_code err;
};

namespace detail {
// Defined in select.hpp: a select between the channel and ctx.done().
template <class T, class Ctx>
task<recv_result<T>> recv_with(chan<T> ch, Ctx ctx);
template <class T, class Ctx>
task<std::error_code> send_with(chan<T> ch, T value, Ctx ctx);
template <class Ctx>
concept context_like = requires(const Ctx& c) {
    c.done();
    c.err();
};
}  // namespace detail

template <class T>
class chan {
public:
    using value_type = T;

    chan() noexcept = default;  // the nil channel

    // Completes when the value is buffered or handed to a receiver; throws channel_closed.
    [[nodiscard]] detail::send_awaiter<T> send(T value) const {
        return detail::send_awaiter<T>{state(), std::move(value)};
    }
    // Gives the next value, or std::nullopt once the channel is closed and drained.
    [[nodiscard]] detail::recv_awaiter<T> recv() const noexcept { return detail::recv_awaiter<T>{state()}; }

    // As recv()/send(), but returns early when `ctx` (a weft::context) ends:
    //     auto r = co_await ch.recv(ctx);      // recv_result<T>: r.value, r.err
    //     std::error_code e = co_await ch.send(v, ctx);
    template <detail::context_like Ctx>
    [[nodiscard]] task<recv_result<T>> recv(const Ctx& ctx) const {
        return detail::recv_with<T, Ctx>(*this, ctx);
    }
    template <detail::context_like Ctx>
    [[nodiscard]] task<std::error_code> send(T value, const Ctx& ctx) const {
        return detail::send_with<T, Ctx>(*this, std::move(value), ctx);
    }

    // Sends without blocking: true if sent; false if it would block (and always on nil).
    // An rvalue T is moved from only if sent. Throws channel_closed if closed.
    template <class U = T>
    requires std::is_convertible_v<U&&, T>
    bool try_send(U&& value) const {
        if constexpr (std::is_same_v<U, T>) {  // an rvalue T: hand it over only on success
            return try_send_item(value);
        } else {
            T item(std::forward<U>(value));  // a copy (lvalue) or a conversion
            return try_send_item(item);
        }
    }
    // Receives without blocking: a value if one is ready; std::nullopt if none is ready or
    // the channel is closed and drained (a select with default_case tells the two apart).
    std::optional<T> try_recv() const {
        auto* s = state();
        if (!s) return std::nullopt;
        std::optional<T> out;
        s->lock.lock();
        detail::chan_waiter* wake = nullptr;
        s->try_recv_locked(out, &wake);
        s->lock.unlock();
        if (wake) detail::wake_one(wake);
        return out;
    }

    // Closes the channel: parked receivers get nullopt (after the buffer drains), parked
    // senders throw channel_closed. Throws channel_closed if closed already or nil.
    void close() const {
        if (!state()) detail::throw_close_of_nil();
        state()->close();
    }

    std::size_t size() const noexcept { return state() ? state()->size() : 0; }  // buffered values
    std::size_t capacity() const noexcept { return state() ? state()->capacity() : 0; }
    bool is_nil() const noexcept { return state() == nullptr; }

    friend bool operator==(const chan& a, const chan& b) noexcept { return a.state() == b.state(); }

    detail::chan_state<T>* state() const noexcept { return ref_.get(); }  // for weft's own use

private:
    bool try_send_item(T& item) const {
        auto* s = state();
        if (!s) return false;
        s->lock.lock();
        detail::chan_waiter* wake = nullptr;
        const auto status = s->try_send_locked(item, &wake);
        s->lock.unlock();
        if (wake) detail::wake_one(wake);
        if (status == detail::send_status::closed) detail::throw_send_on_closed();
        return status == detail::send_status::sent;
    }

    template <class U>
    friend chan<U> make_chan(std::size_t capacity);
    explicit chan(detail::chan_state<T>* adopted) noexcept : ref_(adopted) {}

    detail::chan_ref<T> ref_;
};

// Go's make(chan T, capacity). Throws std::bad_alloc.
template <class T>
chan<T> make_chan(std::size_t capacity = 0) {
    return chan<T>{new detail::chan_state<T>(capacity)};
}

// Go's chan<- T: the sending half.
template <class T>
class send_chan {
public:
    using value_type = T;
    send_chan() noexcept = default;
    send_chan(const chan<T>& ch) noexcept : ch_(ch) {}  // NOLINT: implicit, like Go's conversion

    [[nodiscard]] detail::send_awaiter<T> send(T value) const { return ch_.send(std::move(value)); }
    template <detail::context_like Ctx>
    [[nodiscard]] task<std::error_code> send(T value, const Ctx& ctx) const {
        return ch_.send(std::move(value), ctx);
    }
    template <class U = T>
    requires std::is_convertible_v<U&&, T>
    bool try_send(U&& value) const { return ch_.try_send(std::forward<U>(value)); }
    void close() const { ch_.close(); }
    std::size_t size() const noexcept { return ch_.size(); }
    std::size_t capacity() const noexcept { return ch_.capacity(); }
    bool is_nil() const noexcept { return ch_.is_nil(); }
    friend bool operator==(const send_chan& a, const send_chan& b) noexcept { return a.ch_ == b.ch_; }

    const chan<T>& underlying() const noexcept { return ch_; }  // for weft's own use

private:
    chan<T> ch_;
};

// Go's <-chan T: the receiving half.
template <class T>
class recv_chan {
public:
    using value_type = T;
    recv_chan() noexcept = default;
    recv_chan(const chan<T>& ch) noexcept : ch_(ch) {}  // NOLINT: implicit, like Go's conversion

    [[nodiscard]] detail::recv_awaiter<T> recv() const noexcept { return ch_.recv(); }
    template <detail::context_like Ctx>
    [[nodiscard]] task<recv_result<T>> recv(const Ctx& ctx) const {
        return ch_.recv(ctx);
    }
    std::optional<T> try_recv() const { return ch_.try_recv(); }
    std::size_t size() const noexcept { return ch_.size(); }
    std::size_t capacity() const noexcept { return ch_.capacity(); }
    bool is_nil() const noexcept { return ch_.is_nil(); }
    friend bool operator==(const recv_chan& a, const recv_chan& b) noexcept { return a.ch_ == b.ch_; }

    const chan<T>& underlying() const noexcept { return ch_; }  // for weft's own use

private:
    chan<T> ch_;
};

}  // namespace weft
