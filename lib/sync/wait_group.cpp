// Provides wait_group: Go's sync.WaitGroup for tasks.
//
// Invariants
//   - state_ = counter << 2 | waking | has_waiters. has_waiters is set only while the counter
//     is non-zero, by the CAS that also checks the counter (so a waiter can never register
//     after the zero crossing that should have released it).
//   - The add() whose CAS takes the counter to zero with has_waiters set replaces both bits
//     by `waking` in the same CAS: it alone owns the list until it clears `waking`.
//   - After clearing `waking`, that add() touches only the waiter nodes it took (they live in
//     suspended frames, resumed by it), never the group: the group may be destroyed by then.
//   - A waiter that finds the counter zero while `waking` is set spins until it clears, so a
//     waiter that returns from wait() knows no add() still touches the group.
#include <weft/detail/spin_lock.hpp>
#include <weft/wait_group.hpp>

#include <stdexcept>
#include <thread>

namespace weft {
namespace {
constexpr std::int64_t has_waiters = 1;
constexpr std::int64_t waking = 2;
constexpr std::int64_t counter_of(std::int64_t state) {
    return state >> 2;
}

}  // namespace

void wait_group::lock_list() noexcept {
    // acquire: pairs with unlock_list's release; makes the list as the last holder left it.
    while (list_lock_.exchange(true, std::memory_order_acquire)) {
        while (list_lock_.load(std::memory_order_relaxed))
            detail::cpu_relax();
    }
}

void wait_group::unlock_list() noexcept {
    list_lock_.store(false, std::memory_order_release);
}

void wait_group::wait_while_waking() const noexcept {
    int spins = 0;
    // acquire: pairs with release_waiters' final fetch_and; after it the group is quiescent.
    while (state_.load(std::memory_order_acquire) & waking) {
        if (++spins < 64) {
            detail::cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
}

wait_group::~wait_group() {
    // Only reachable with waiters during run()'s shutdown: detach them so their destructors
    // do not reach back into this group.
    for (waiter* w = waiters_; w; w = w->next_)
        w->group_ = 0;
}

std::int64_t wait_group::count() const noexcept {
    return counter_of(state_.load(std::memory_order_acquire));
}

void wait_group::add(std::int64_t delta) {
    std::int64_t state = state_.load(std::memory_order_relaxed);
    for (;;) {
        const std::int64_t counter = counter_of(state) + delta;
        if (counter < 0) throw std::logic_error("weft: negative wait_group counter");
        std::int64_t next = counter * counter_one + (state & (has_waiters | waking));
        const bool release = counter == 0 && (state & has_waiters);
        if (release) next = waking;
        // acq_rel: release publishes the work before this done() to the waiters (who acquire
        // the state); acquire makes a releasing add() see the registered waiters.
        if (state_.compare_exchange_weak(state, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
            if (release) release_waiters();
            return;
        }
    }
}

void wait_group::release_waiters() noexcept {
    lock_list();
    waiter* list = waiters_;
    waiters_ = nullptr;
    for (waiter* w = list; w; w = w->next_)
        w->group_ &= ~waiter::linked_bit;
    unlock_list();
    // release: the list is detached; waiters spinning in wait_while_waking may now return.
    // From here on the group may be destroyed; the nodes stay valid until their own task is
    // scheduled, so read `next_` first.
    state_.fetch_and(~waking, std::memory_order_release);
    while (list) {
        waiter* next = list->next_;
        detail::schedule(list->task_);
        list = next;
    }
}

wait_group::waiter::~waiter() {
    // Only a task destroyed while parked (run()'s shutdown) is still linked.
    if (!(group_ & linked_bit)) return;  // also when the group is gone (group_ == 0)
    wait_group& g = group();
    g.lock_list();
    for (waiter** p = &g.waiters_; *p; p = &(*p)->next_) {
        if (*p == this) {
            *p = next_;
            break;
        }
    }
    g.unlock_list();
}

bool wait_group::waiter::await_ready() const noexcept {
    const std::int64_t state = group().state_.load(std::memory_order_acquire);
    if (counter_of(state) != 0) return false;
    if (state & waking) group().wait_while_waking();
    return true;
}

bool wait_group::waiter::await_suspend(std::coroutine_handle<> self) noexcept {
    wait_group& group = this->group();
    task_ = self;
    group.lock_list();
    std::int64_t state = group.state_.load(std::memory_order_acquire);
    for (;;) {
        if (counter_of(state) == 0) {
            group.unlock_list();
            if (state & waking) group.wait_while_waking();
            return false;  // released meanwhile: do not suspend
        }
        // acq_rel: acquire the released state on failure; release our registration.
        if (group.state_.compare_exchange_weak(state, state | has_waiters, std::memory_order_acq_rel,
                                               std::memory_order_acquire))
            break;
    }
    next_ = group.waiters_;
    group.waiters_ = this;
    group_ |= linked_bit;
    group.unlock_list();
    return true;
}

}  // namespace weft
