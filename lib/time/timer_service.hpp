// Provides timer_service: one timer wheel per worker (a shard), the clock they share, and
// the calls the workers make to fire what is due and to learn how long they may sleep.
//
// Sharding: a timer is armed on the shard of the worker that arms it, so a million sleepers
// spread over the workers' locks instead of one. Any worker fires any due shard: a worker
// checks the earliest published deadline every few tasks and before parking, and a parked
// worker sleeps until the earliest deadline of all shards. No timer thread; no periodic
// wake-up when nothing is due.
//
// Lock order: a heap timer's lock (timer_state) may be held while taking a shard's lock;
// a shard's lock is held only around wheel operations, never while firing.
#pragma once

#include "time/wheel.hpp"

#include <weft/detail/spin_lock.hpp>
#include <weft/detail/timer_node.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

namespace weft::detail {

class timer_shard {
public:
    spin_lock lock;     // guards wheel and the armed nodes' links
    timer_wheel wheel;  // guarded by lock
    // The earliest expiration tick of `wheel` (or never), published for lock-free reads by
    // workers deciding whether to take the lock. Written under lock; may be early, never late.
    std::atomic<std::uint64_t> next_tick{never};

    static constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
};

class timer_service {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::int64_t tick_ns = 250'000;  // wheel resolution: 250 us

    explicit timer_service(unsigned shards);

    std::uint64_t deadline_tick(clock::time_point deadline) const noexcept;  // rounded up
    std::uint64_t now_tick(clock::time_point now) const noexcept;            // rounded down
    clock::time_point time_of(std::uint64_t tick) const noexcept;

    // Arms `node` on shard `shard`; returns its deadline tick.
    std::uint64_t arm(unsigned shard, timer_node& node, clock::time_point deadline) noexcept;
    static bool cancel(timer_node& node) noexcept;

    // The earliest published expiration tick over all shards (never if none).
    std::uint64_t earliest_tick() const noexcept;

    // Fires every timer due at `now` on shard `first` and, if `all`, on every other shard.
    // Returns how many fired. Callbacks run on the calling thread, without locks.
    std::size_t fire_due(clock::time_point now, unsigned first, bool all) noexcept;
    std::size_t fire_due_at(std::uint64_t tick, unsigned first, bool all) noexcept;

    // Fires everything still armed (run()'s shutdown: releases heap timers' references).
    void fire_all_for_shutdown() noexcept;

    unsigned size() const noexcept { return static_cast<unsigned>(shards_.size()); }

private:
    static void publish(timer_shard& shard) noexcept;

    const clock::time_point epoch_;
    std::vector<std::unique_ptr<timer_shard>> shards_;
};

}  // namespace weft::detail
