// Provides the awaiters behind `co_await ch.send(v)` and `co_await ch.recv()`.
//
// Each awaiter tries to complete under the channel lock in await_ready; if it cannot, it
// keeps the lock into await_suspend, queues its node (which lives in the awaiting frame, so
// parking allocates nothing), takes a reference on the channel, and unlocks. After that
// unlock the task may already be running on another worker, so await_suspend touches
// nothing of the awaiter. The node's state says how the wait ended.
#pragma once

#include <weft/detail/chan_state.hpp>
#include <weft/detail/scheduler.hpp>

#include <coroutine>
#include <optional>
#include <utility>

namespace weft::detail {

template <class T>
class recv_awaiter {
public:
    explicit recv_awaiter(chan_state<T>* state) noexcept : state_(state) {}
    recv_awaiter(const recv_awaiter&) = delete;
    recv_awaiter& operator=(const recv_awaiter&) = delete;
    ~recv_awaiter() {
        if (!holds_ref_) return;
        if (node_.state == waiter_state::queued) {  // destroyed while parked (shutdown)
            state_->lock.lock();
            if (node_.state == waiter_state::queued) state_->recvq.remove(&node_);
            state_->lock.unlock();
        }
        chan_state<T>::release(state_);
    }

    bool await_ready() {
        if (!state_) return false;  // nil channel: block forever
        state_->lock.lock();
        chan_waiter* wake = nullptr;
        if (state_->try_recv_locked(node_.slot, &wake)) {
            state_->lock.unlock();
            if (wake) wake_one(wake);
            return true;
        }
        return false;  // the lock stays held until await_suspend
    }
    bool await_suspend(std::coroutine_handle<> self) noexcept {
        if (!state_) return true;  // parked forever; destroyed at shutdown
        node_.set_task(self);
        state_->add_ref();
        holds_ref_ = true;
        chan_state<T>* state = state_;
        state->recvq.push_back(&node_);
        state->lock.unlock();  // the frame may run from here on: touch nothing of ours
        return true;
    }
    std::optional<T> await_resume() noexcept(std::is_nothrow_move_constructible_v<T>) {
        if (holds_ref_) {
            holds_ref_ = false;
            chan_state<T>::release(state_);
        }
        return std::move(node_.slot);
    }

private:
    chan_state<T>* state_;
    chan_slot_waiter<std::optional<T>> node_;  // the node, and where the value arrives
    bool holds_ref_ = false;
};

template <class T>
class send_awaiter {
public:
    send_awaiter(chan_state<T>* state, T value) noexcept(std::is_nothrow_move_constructible_v<T>)
        : state_(state), node_(std::move(value)) {}
    send_awaiter(const send_awaiter&) = delete;
    send_awaiter& operator=(const send_awaiter&) = delete;
    ~send_awaiter() {
        if (!holds_ref_) return;
        if (node_.state == waiter_state::queued) {  // destroyed while parked (shutdown)
            state_->lock.lock();
            if (node_.state == waiter_state::queued) state_->sendq.remove(&node_);
            state_->lock.unlock();
        }
        chan_state<T>::release(state_);
    }

    bool await_ready() {
        if (!state_) return false;
        state_->lock.lock();
        chan_waiter* wake = nullptr;
        switch (state_->try_send_locked(node_.slot, &wake)) {
            case send_status::sent:
                state_->lock.unlock();
                if (wake) wake_one(wake);
                return true;
            case send_status::closed:
                state_->lock.unlock();
                node_.state = waiter_state::closed;  // thrown by await_resume
                return true;
            case send_status::would_block:
                break;
        }
        return false;  // the lock stays held until await_suspend
    }
    bool await_suspend(std::coroutine_handle<> self) noexcept {
        if (!state_) return true;
        node_.set_task(self);
        state_->add_ref();
        holds_ref_ = true;
        chan_state<T>* state = state_;
        state->sendq.push_back(&node_);
        state->lock.unlock();  // the frame may run from here on
        return true;
    }
    void await_resume() {
        if (holds_ref_) {
            holds_ref_ = false;
            chan_state<T>::release(state_);
        }
        if (node_.state == waiter_state::closed) throw_send_on_closed();
    }

private:
    chan_state<T>* state_;
    chan_slot_waiter<T> node_;  // the node, and the value to send
    bool holds_ref_ = false;
};

}  // namespace weft::detail
