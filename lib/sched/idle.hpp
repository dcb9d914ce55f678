// Provides idle_set: which workers are searching for work and which are parked, and the
// protocol that wakes at most one of them when work appears (see idle.cpp for the essay).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace weft::detail {

class worker;

class idle_set {
public:
    explicit idle_set(unsigned workers);

    // Producer side, after making work visible (push to a stealable queue or the injection
    // queue). Wakes one parked worker if nobody is searching and somebody is parked.
    void notify_one() noexcept {
        // P2 of the protocol (idle.cpp): StoreLoad between the caller's publication of the
        // task and the load of state_; with membarrier the parker pays for it.
        if (!heavy_barrier_) [[unlikely]]
            std::atomic_thread_fence(std::memory_order_seq_cst);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        // Nobody searching and somebody parked: state_ in [1, parked_mask], one compare.
        if (state_.load(std::memory_order_relaxed) - 1 >= parked_mask) return;
        wake_sleeper();
    }

    // A timer was armed earlier than any parked worker will wake: wake one (it re-computes
    // its timeout when it parks again), even if others are searching.
    void notify_timer() noexcept;

    // A worker with no local work wants to search (steal). False if half the workers
    // already search; the worker then parks without searching.
    bool try_start_searching() noexcept;
    // A searching worker found work. If it was the last searcher, it wakes another worker
    // so that the remaining work (there may be more) still has a searcher.
    void stop_searching() noexcept;

    // Parking, step 1: the worker leaves the running set (and the searching set if
    // `searching`) and becomes a sleeper. The caller then runs the barrier and re-checks
    // every queue (step 2) before waiting (step 3).
    void enter_parked(worker& self, bool searching) noexcept;
    // Step 2 found work: leave the sleepers again, as a searcher. If a notifier already took
    // us out, its wake-up is consumed instead (we are then a searcher too).
    void cancel_park(worker& self) noexcept;
    // The heavy half of the Dekker pair between producers and parkers (see idle.cpp).
    void park_barrier() const noexcept;

    // Wakes every sleeper (runtime stop).
    void wake_all() noexcept;

    // Number of workers not parked (for tests and the all-asleep check to come).
    unsigned unparked() const noexcept;

private:
    void wake_sleeper() noexcept;

    static constexpr std::uint32_t parked_one = 1;
    static constexpr std::uint32_t parked_mask = 0xffff;
    static constexpr std::uint32_t searching_one = 1u << 16;
    static std::uint32_t parked_of(std::uint32_t s) { return s & parked_mask; }
    static std::uint32_t searching_of(std::uint32_t s) { return s >> 16; }

    const unsigned workers_;
    const bool heavy_barrier_;  // membarrier(2) available: producers need only a compiler fence
    // bits 0..15: parked workers; bits 16..31: searching workers. Changed by RMW (a move
    // between the two fields is one add of the difference, which borrows across them);
    // read by producers in notify_one. Changes that add or remove sleepers happen under lock_.
    alignas(64) std::atomic<std::uint32_t> state_;
    std::mutex lock_;                // protects sleepers_; a leaf lock
    std::vector<worker*> sleepers_;  // guarded by lock_
};

}  // namespace weft::detail
