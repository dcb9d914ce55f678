// Provides the non-template half of channels: waiter queues, close, wake-ups, errors.
#include <weft/chan.hpp>
#include <weft/detail/chan_state.hpp>
#include <weft/detail/scheduler.hpp>

#include <mutex>

namespace weft::detail {

void waiter_queue::push_back(chan_waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_) {
        tail_->next = w;
    } else {
        head_ = w;
    }
    tail_ = w;
    w->state = waiter_state::queued;
}

void waiter_queue::remove(chan_waiter* w) noexcept {
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        head_ = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    } else {
        tail_ = w->prev;
    }
    w->prev = w->next = nullptr;
    w->state = waiter_state::idle;
}

chan_waiter* waiter_queue::pop_claimable() noexcept {
    while (chan_waiter* w = head_) {
        remove(w);
        if (!w->in_select || w->arbiter()->try_claim(w->case_index)) return w;
        // Its select was won on another channel: the select withdraws the rest itself.
    }
    return nullptr;
}

std::size_t chan_base::size() noexcept {
    std::lock_guard guard(lock);
    return count;
}

void chan_base::close() {
    chan_waiter* wake = nullptr;
    {
        std::lock_guard guard(lock);
        if (closed) throw channel_closed("close of closed channel");
        closed = true;
        // Receivers are parked only while the buffer is empty: they all get nullopt.
        while (chan_waiter* r = recvq.pop_claimable()) {
            r->state = waiter_state::closed;
            r->next = wake;
            wake = r;
        }
        // Senders are parked only while the buffer is full: they all throw.
        while (chan_waiter* s = sendq.pop_claimable()) {
            s->state = waiter_state::closed;
            s->next = wake;
            wake = s;
        }
    }
    wake_list(wake);
}

void wake_list(chan_waiter* list) noexcept {
    if (list && !list->next) return wake_one(list);
    wake_batch batch;  // close: every waiter reaches the scheduler in a few batches
    while (list) {
        chan_waiter* next = list->next;  // read before the task may run and free the node
        batch.add(list->task());
        list = next;
    }
}

void wake_one(chan_waiter* w) noexcept {
    schedule(w->task());
}

void throw_send_on_closed() {
    throw channel_closed("send on closed channel");
}
void throw_close_of_nil() {
    throw channel_closed("close of nil channel");
}

}  // namespace weft::detail
