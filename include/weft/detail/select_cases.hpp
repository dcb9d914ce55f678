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

namespace weft::detail {

struct default_case_t {
    using result_type = std::monostate;
    chan_base* channel() const noexcept { return nullptr; }
};

// What weft::recv / weft::send return: small descriptors, turned into the cases below
// (which carry the waiter nodes) only inside the select awaiter, so a parked select's frame
// holds each node once. A descriptor hands its channel reference over to its case.
//
// Under clang a recv descriptor is passed in a register ([[clang::trivial_abi]]: the callee,
// select(), destroys its parameter), so the awaiting frame does not keep the moved-from
// descriptors beside the cases until the co_await ends (24 bytes of a 3-case select). The
// attribute changes how the type is passed, so it lives in an inline namespace named after
// the convention: code built by g++ and by clang never shares an instantiation that takes
// or returns one.
#if defined(__clang__)
#define WEFT_DETAIL_REGISTER_PASSED [[clang::trivial_abi]]
inline namespace ops_in_registers {
#else
#define WEFT_DETAIL_REGISTER_PASSED
inline namespace ops_in_memory {
#endif
template <class T>
class WEFT_DETAIL_REGISTER_PASSED recv_op {
public:
    explicit recv_op(chan_ref<T>&& ch) noexcept : state_(ch.release()) {}
    recv_op(const recv_op& other) noexcept : state_(other.state_) {
        if (state_) state_->add_ref();
    }
    recv_op(recv_op&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    recv_op& operator=(const recv_op&) = delete;
    ~recv_op() { chan_state<T>::release(state_); }

    chan_ref<T> take() noexcept { return chan_ref<T>{std::exchange(state_, nullptr)}; }

private:
    chan_state<T>* state_;  // a counted reference, or null (nil channel)
};
}  // inline namespace
template <class T>
struct send_op {
    chan_ref<T> ch;
    T value;
};

// The part of recv_case and send_case that holds the waiter node. The node's `owner` field
// carries the case's counted reference to its channel (null: a nil channel), so a case
// costs its node and nothing more.
template <class V, class T>
class case_node {
public:
    template <class... Args>
    explicit case_node(chan_ref<T>&& ch, Args&&... args) : node_(std::forward<Args>(args)...) {
        node_.owner = ch.release();
    }
    case_node(case_node&& other) noexcept(std::is_nothrow_move_constructible_v<V>)
        : node_(std::move(other.node_.slot)) {  // only ever moved before it is queued
        node_.owner = std::exchange(other.node_.owner, nullptr);
    }
    case_node(const case_node&) = delete;
    case_node& operator=(const case_node&) = delete;
    ~case_node() { chan_state<T>::release(state()); }

    chan_base* channel() const noexcept { return state(); }

protected:
    chan_state<T>* state() const noexcept { return static_cast<chan_state<T>*>(node_.owner); }

    chan_slot_waiter<V> node_;  // the node, and its value (to send, or where one arrives)
};

template <class T>
class recv_case : public case_node<std::optional<T>, T> {
    using base = case_node<std::optional<T>, T>;
    using base::node_;
    using base::state;

public:
    using result_type = std::optional<T>;
    explicit recv_case(recv_op<T>&& op) noexcept : base(op.take()) {}

    // Lock held: completes now if it can (*wake: a sender to schedule after unlocking).
    bool try_now(chan_waiter** wake, bool& /*send_closed*/) { return state()->try_recv_locked(node_.slot, wake); }
    // Lock held: parks this case's node on the channel.
    void enqueue(select_arbiter* arbiter, std::uint8_t index) noexcept {
        node_.set_select(arbiter, index);
        state()->recvq.push_back(&node_);
    }
    // Lock held: takes the node out of the queue if it is still there.
    void withdraw() noexcept {
        if (node_.state == waiter_state::queued) state()->recvq.remove(&node_);
    }
    bool closed_send() const noexcept { return false; }
    result_type take() { return std::move(node_.slot); }
};

template <class T>
class send_case : public case_node<T, T> {
    using base = case_node<T, T>;
    using base::node_;
    using base::state;

public:
    using result_type = std::monostate;
    explicit send_case(send_op<T>&& op) : base(std::move(op.ch), std::move(op.value)) {}

    bool try_now(chan_waiter** wake, bool& send_closed) {
        switch (state()->try_send_locked(node_.slot, wake)) {
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
    void enqueue(select_arbiter* arbiter, std::uint8_t index) noexcept {
        node_.set_select(arbiter, index);
        state()->sendq.push_back(&node_);
    }
    void withdraw() noexcept {
        if (node_.state == waiter_state::queued) state()->sendq.remove(&node_);
    }
    bool closed_send() const noexcept { return node_.state == waiter_state::closed; }
    result_type take() noexcept { return {}; }
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
