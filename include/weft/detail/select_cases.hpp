// Provides the case types of weft::select (recv_case, send_case, default_case_t) and the
// operations the select awaiter performs on them under their channels' locks.
#pragma once

#include <weft/detail/chan_state.hpp>

#include <coroutine>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace weft {
template <class T>
class chan;
}

namespace weft::detail {

struct default_case_t {
    using result_type = std::monostate;
    chan_base* channel() const noexcept { return nullptr; }
};

// What weft::recv / weft::send return: small descriptors, turned into the cases below
// (which carry the waiter nodes) only inside the select awaiter, so a parked select's frame
// holds each node once.
template <class T>
struct recv_op {
    chan<T> ch;
};
template <class T>
struct send_op {
    chan<T> ch;
    T value;
};

template <class T>
class recv_case {
public:
    using result_type = std::optional<T>;
    explicit recv_case(recv_op<T>&& op) noexcept : ch_(std::move(op.ch)) {}
    recv_case(recv_case&&) = default;
    recv_case(const recv_case&) = delete;

    chan_base* channel() const noexcept { return ch_.state(); }

    // Lock held: completes now if it can (*wake: a sender to schedule after unlocking).
    bool try_now(chan_waiter** wake, bool& /*send_closed*/) { return ch_.state()->try_recv_locked(node_.slot, wake); }
    // Lock held: parks this case's node on the channel.
    void enqueue(select_arbiter* arbiter, std::uint32_t index) noexcept {
        node_.set_select(arbiter, index);
        ch_.state()->recvq.push_back(&node_);
    }
    // Lock held: takes the node out of the queue if it is still there.
    void withdraw() noexcept {
        if (node_.state == waiter_state::queued) ch_.state()->recvq.remove(&node_);
    }
    bool closed_send() const noexcept { return false; }
    result_type take() { return std::move(node_.slot); }

private:
    chan<T> ch_;
    chan_slot_waiter<std::optional<T>> node_;  // the node, and where the value arrives
};

template <class T>
class send_case {
public:
    using result_type = std::monostate;
    explicit send_case(send_op<T>&& op) : ch_(std::move(op.ch)), node_(std::move(op.value)) {}
    send_case(send_case&&) = default;
    send_case(const send_case&) = delete;

    chan_base* channel() const noexcept { return ch_.state(); }

    bool try_now(chan_waiter** wake, bool& send_closed) {
        switch (ch_.state()->try_send_locked(node_.slot, wake)) {
            case send_status::sent:
                return true;
            case send_status::closed:
                send_closed = true;
                return true;
            case send_status::would_block:
                break;
        }
        return false;
    }
    void enqueue(select_arbiter* arbiter, std::uint32_t index) noexcept {
        node_.set_select(arbiter, index);
        ch_.state()->sendq.push_back(&node_);
    }
    void withdraw() noexcept {
        if (node_.state == waiter_state::queued) ch_.state()->sendq.remove(&node_);
    }
    bool closed_send() const noexcept { return node_.state == waiter_state::closed; }
    result_type take() noexcept { return {}; }

private:
    chan<T> ch_;
    chan_slot_waiter<T> node_;  // the node, and the value to send
};

template <class T>
struct is_default_case : std::is_same<std::remove_cvref_t<T>, default_case_t> {};

// The case type a descriptor becomes.
template <class Op>
struct case_of {
    using type = Op;  // default_case_t
};
template <class T>
struct case_of<recv_op<T>> {
    using type = recv_case<T>;
};
template <class T>
struct case_of<send_op<T>> {
    using type = send_case<T>;
};
template <class Op>
using case_of_t = typename case_of<Op>::type;

}  // namespace weft::detail
