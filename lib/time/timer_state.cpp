// Provides heap timers' shared state and the stop/reset protocol (see timer_state.hpp).
#include <weft/detail/timer_state.hpp>

#include <weft/detail/scheduler.hpp>

#include <mutex>
#include <thread>

namespace weft::detail {

timer_state::timer_state() noexcept {
    hook_.owner = this;
    hook_.fire = &timer_state::on_fire;
}

bool timer_state::arm_locked(clock::time_point deadline) noexcept {
    armed_seq_ = ++seq_;
    deadline_ = deadline;
    add_ref();  // the wheel's reference, given back when it fires or is cancelled
    if (!timer_arm(hook_, deadline)) {
        refs_.fetch_sub(1, std::memory_order_relaxed);  // never armed: we still hold ours
        armed_ = false;
        return false;
    }
    armed_ = true;
    return true;
}

bool timer_state::start(clock::time_point deadline) noexcept {
    std::lock_guard guard(lock_);
    return arm_locked(deadline);
}

void timer_state::rearm_locked(clock::time_point deadline) noexcept {
    hook_.firing.store(false, std::memory_order_release);  // we are the firing callback
    arm_locked(deadline);
}

bool timer_state::stop_locked() noexcept {
    bool prevented = false;
    ++seq_;  // an in-flight fire now drops itself
    if (armed_) {
        prevented = true;
        if (timer_cancel(hook_)) refs_.fetch_sub(1, std::memory_order_relaxed);  // the wheel's
        armed_ = false;
    }
    if (drain_locked()) prevented = true;
    return prevented;
}

bool timer_state::stop() noexcept {
    std::lock_guard guard(lock_);
    return stop_locked();
}

bool timer_state::reset(clock::time_point deadline) noexcept {
    lock_.lock();
    const bool prevented = stop_locked();
    // A fire in flight still owns the node's links until it clears `firing`; it needs
    // lock_ to finish, so wait for it without holding lock_.
    while (hook_.firing.load(std::memory_order_acquire)) {
        lock_.unlock();
        std::this_thread::yield();
        lock_.lock();
    }
    arm_locked(deadline);
    lock_.unlock();
    return prevented;
}

void timer_state::on_fire(timer_node* node) noexcept {
    timer_state* self = static_cast<hook*>(node)->owner;
    bool call_unlocked = false;
    {
        std::lock_guard guard(self->lock_);
        const bool current = self->armed_seq_ == self->seq_ && self->armed_;
        if (current) {
            self->armed_ = false;
            call_unlocked = self->expire_locked(clock::now());  // may re-arm (ticker)
        }
        if (!self->armed_) self->hook_.firing.store(false, std::memory_order_release);
    }
    if (call_unlocked) self->expire_unlocked();
    self->release();  // the wheel's reference for this arming
}

}  // namespace weft::detail
