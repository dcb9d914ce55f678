// Provides the worker parking protocol: idle workers use no CPU, new work wakes at most one.
//
// The protocol (Go's proc.go "Worker thread parking/unparking", Tokio's idle.rs)
//   Producer (a task pushing to a stealable queue, or any thread pushing to the injection
//   queue):
//     P1. make the task visible (release store of the queue tail / unlock of the inject lock);
//     P2. barrier (see below);
//     P3. read state_; if some worker is searching, or none is parked, do nothing;
//     P4. otherwise, under lock_, pop one sleeper, count it as searching instead of parked,
//         and wake it (its futex word).
//   Worker running out of work:
//     W1. try to become a searcher (at most half the workers search at once), steal from
//         random victims and the injection queue; a searcher that finds work stops searching
//         and, if it was the last searcher, wakes another worker (Go's resetspinning).
//     W2. enter_parked: under lock_, join the parked count (leaving the searching one) by
//         RMW and join sleepers_;
//     W3. park_barrier;
//     W4. re-check every worker's run queue and the injection queue; if anything is there,
//         cancel_park and search again;
//     W5. wait on the futex word until woken.
//
// Why no wake-up is lost. P1-P3 and W2-W4 are the two halves of a Dekker pair: the producer
// stores (task) then loads (state), the worker stores (state) then loads (queues). With a
// StoreLoad barrier on both sides, at least one of them sees the other's store: either the
// producer sees the worker gone (parked, no searcher) and wakes a sleeper, or the
// worker's re-check sees the task. A producer that skips the wake-up because a worker is
// searching is covered by that searcher: it either finds the task, or parks through W2-W4
// and re-checks after its own barrier. Sleepers are woken only under lock_, and a worker
// that cancels its park under lock_ either removes itself (nobody woke it) or finds itself
// already removed (a wake-up is on its way and is consumed by the next wait): no wake-up is
// delivered to nobody and none is counted twice.
//
// The barrier. A seq_cst fence on every producer costs ~10-30 ns on x86 on the hottest path
// (every spawn). Parking is rare, so the cost is moved there: the worker calls
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full barrier on every running
// thread of the process, and the producer needs only a compiler barrier (an asymmetric
// Dekker, as folly's asymmetricHeavyBarrier). Where membarrier is unavailable (old kernel,
// seccomp), both sides use seq_cst fences.
//
// Rejected: waking on every push (thundering herd, futex syscalls on the hot path); a
// dedicated idle thread or timed parking as a safety net (CPU use while idle, latency).
#include "sched/idle.hpp"

#include "sched/heavy_barrier.hpp"
#include "sched/worker.hpp"

#include <algorithm>

namespace weft::detail {

idle_set::idle_set(unsigned workers) : workers_(workers), heavy_barrier_(heavy_barrier_available()), state_(0) {
    sleepers_.reserve(workers);
}

void idle_set::park_barrier() const noexcept {
    if (heavy_barrier_) {
        heavy_barrier();
    } else {
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
}

void idle_set::wake_sleeper() noexcept {
    worker* sleeper = nullptr;
    {
        std::lock_guard guard(lock_);
        const std::uint32_t now = state_.load(std::memory_order_relaxed);
        if (searching_of(now) != 0 || sleepers_.empty()) return;
        sleeper = sleepers_.back();
        sleepers_.pop_back();
        state_.fetch_add(searching_one - parked_one, std::memory_order_seq_cst);  // parked -> searching
        sleeper->mark_woken();
    }
    sleeper->wake();
}

void idle_set::notify_timer() noexcept {
    worker* sleeper = nullptr;
    {
        std::lock_guard guard(lock_);
        if (sleepers_.empty()) return;
        sleeper = sleepers_.back();
        sleepers_.pop_back();
        state_.fetch_add(searching_one - parked_one, std::memory_order_seq_cst);
        sleeper->mark_woken();
    }
    sleeper->wake();
}

bool idle_set::try_start_searching() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
        if (2 * searching_of(s) >= workers_ && workers_ > 1) return false;
        if (searching_of(s) >= 1 && workers_ == 1) return false;
        // seq_cst: a producer that reads state_ after this sees a searcher and relies on us.
        if (state_.compare_exchange_weak(s, s + searching_one, std::memory_order_seq_cst, std::memory_order_relaxed))
            return true;
    }
}

void idle_set::stop_searching() noexcept {
    const std::uint32_t before = state_.fetch_sub(searching_one, std::memory_order_seq_cst);
    if (searching_of(before) == 1) notify_one();
}

void idle_set::enter_parked(worker& self, bool searching) noexcept {
    std::lock_guard guard(lock_);
    self.prepare_park();
    // seq_cst: the store half of W2-W4; park_barrier follows.
    state_.fetch_add(parked_one - (searching ? searching_one : 0), std::memory_order_seq_cst);
    sleepers_.push_back(&self);
}

void idle_set::cancel_park(worker& self) noexcept {
    std::lock_guard guard(lock_);
    auto it = std::find(sleepers_.begin(), sleepers_.end(), &self);
    if (it == sleepers_.end()) return;  // a notifier took us out and counted us as searching
    sleepers_.erase(it);
    state_.fetch_add(searching_one - parked_one, std::memory_order_seq_cst);
}

void idle_set::wake_all() noexcept {
    std::vector<worker*> woken;
    {
        std::lock_guard guard(lock_);
        woken.swap(sleepers_);
        state_.fetch_sub(static_cast<std::uint32_t>(woken.size()) * parked_one, std::memory_order_seq_cst);
        for (worker* w : woken)
            w->mark_woken();
    }
    for (worker* w : woken)
        w->wake();
}

unsigned idle_set::unparked() const noexcept {
    return workers_ - parked_of(state_.load(std::memory_order_relaxed));
}

}  // namespace weft::detail
