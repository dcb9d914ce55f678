// Provides timer_node, the intrusive entry of the timer wheel, and the calls that arm and
// cancel one (lib/time/). A node lives in whatever waits on it: a sleeping task's frame, or
// a heap timer (timer, ticker, after, context deadlines). Arming allocates nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::detail {

class timer_shard;

struct timer_node {
    using clock = std::chrono::steady_clock;

    // Called without any wheel lock once the deadline has passed. The node is `firing`
    // until the callback clears it (heap timers) or resumes the node's owner (sleeps).
    void (*fire)(timer_node* self) noexcept = nullptr;

    // The shard holding the node while armed, else null. Written under that shard's lock;
    // read without it by timer_cancel to find the lock to take (then re-checked under it).
    std::atomic<timer_shard*> shard{nullptr};
    // Set by the shard when it takes the node out to fire it; cleared by the callback
    // (release) when the node may be armed again. Nobody re-arms a firing node.
    std::atomic<bool> firing{false};
    // Guarded by the shard's lock while armed; `next` also chains a due list while firing.
    timer_node* prev = nullptr;
    timer_node* next = nullptr;
    std::uint64_t tick = 0;  // deadline in wheel ticks (rounded up: never early)
    std::uint8_t level = 0;
    std::uint8_t slot = 0;
};

// Arms `node` to fire at `deadline` (on the current worker's shard, or shard 0 off-worker).
// A deadline already passed fires soon, never inline. Returns false (and does nothing) if
// no runtime is running.
bool timer_arm(timer_node& node, timer_node::clock::time_point deadline) noexcept;
// `now + d`, saturating at time_point::max() (never overflows).
timer_node::clock::time_point deadline_after(timer_node::clock::duration d) noexcept;
// Disarms `node`: true if it was armed (it will not fire); false if it already fired or is
// firing. Any thread.
bool timer_cancel(timer_node& node) noexcept;

}  // namespace weft::detail
