// Provides timer_node, the intrusive entry of the timer wheel, and the calls that arm and
// cancel one (lib/time/). A node lives in whatever waits on it: a sleeping task's frame, or
// a heap timer (timer, ticker, after, context deadlines). Arming allocates nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace weft {

// Any std::chrono::duration, converted to steady_clock's without overflow: values beyond
// its range saturate (so sleep_for(hours::max()) sleeps "forever"), fractions round up
// (a timer never fires early). The parameter type of every weft call that takes a duration.
class saturating_duration {
public:
    using target = std::chrono::steady_clock::duration;

    template <class Rep, class Period>
    constexpr saturating_duration(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT: implicit by design
        : value_(clamp(d)) {}
    constexpr target get() const noexcept { return value_; }

private:
    template <class Rep, class Period>
    static constexpr target clamp(std::chrono::duration<Rep, Period> d) noexcept {
        if constexpr (std::is_same_v<std::chrono::duration<Rep, Period>, target>) {
            return d;
        } else {
            using wide = std::chrono::duration<long double, target::period>;
            const long double ticks = std::chrono::duration_cast<wide>(d).count();
            if (!(ticks < static_cast<long double>(target::max().count()))) return target::max();
            if (!(ticks > static_cast<long double>(target::min().count()))) return target::min();
            return target(static_cast<target::rep>(std::ceil(ticks)));
        }
    }
    target value_;
};

}  // namespace weft

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
