// Provides timer_state: the shared, reference-counted state of a heap timer (weft::timer,
// weft::ticker, after, after_func, context deadlines), and the stop/reset protocol that
// gives Go 1.23's guarantee: once stop or reset returns, no stale value is delivered.
//
// Protocol (all under `lock_`)
//   - arm: seq_ is bumped and remembered by the node (armed_seq_); the wheel holds a reference.
//   - fire (the wheel's callback, no wheel lock held): if armed_seq_ != seq_, a stop or reset
//     happened after the node left the wheel: drop it. Otherwise expire_locked() acts
//     (send on the channel, re-arm a ticker, ...), then `firing` is cleared.
//   - stop: bump seq_ (an in-flight fire drops itself), cancel the node if still in the
//     wheel, and drain the channel's undelivered value. Returns whether a delivery was
//     prevented (Go's Stop result).
//   - reset: stop, wait for an in-flight fire to clear `firing` (it is short and takes
//     `lock_`, so we wait unlocked), then arm again.
// Lock order: lock_ before a shard's lock and before the channel's lock.
#pragma once

#include <weft/detail/frame_cache.hpp>
#include <weft/detail/spin_lock.hpp>
#include <weft/detail/timer_node.hpp>

#include <atomic>
#include <chrono>
#include <new>
#include <cstdint>

namespace weft::detail {

class timer_state {
public:
    using clock = std::chrono::steady_clock;

    timer_state() noexcept;
    timer_state(const timer_state&) = delete;
    timer_state& operator=(const timer_state&) = delete;
    virtual ~timer_state() = default;

    // Nodes come from the object pool (frame_cache.hpp), not malloc. The virtual destructor
    // passes the most derived type's size to the sized delete.
    static void* operator new(std::size_t size) { return object_alloc(size); }
    static void operator delete(void* node, std::size_t size) noexcept { object_free(node, size); }
    // An over-aligned derived type goes to the general heap (pool blocks are 16-aligned).
    static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
    static void operator delete(void* node, std::size_t size, std::align_val_t align) noexcept {
        ::operator delete(node, size, align);
    }

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        // acq_rel: the last owner sees all other owners' writes before deleting.
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // Arms for `deadline` (the first time). False if no runtime is running.
    bool start(clock::time_point deadline) noexcept;
    // Go's Timer.Stop: true if this call prevented a delivery.
    bool stop() noexcept;
    // Go's Timer.Reset: stop, then arm for `deadline`; returns what stop returned.
    bool reset(clock::time_point deadline) noexcept;

protected:
    // Called under lock_ when the deadline passed and nothing cancelled it. Returns true to
    // have expire_unlocked() called after the lock is released.
    virtual bool expire_locked(clock::time_point now) noexcept = 0;
    virtual void expire_unlocked() noexcept {}
    // Called under lock_ by stop: takes back a value delivered but not yet received.
    virtual bool drain_locked() noexcept { return false; }
    // Under lock_: re-arms for `deadline` from inside expire_locked (tickers).
    void rearm_locked(clock::time_point deadline) noexcept;
    // Under lock_: the deadline of the current (or just expired) arming.
    clock::time_point armed_deadline() const noexcept { return deadline_; }

private:
    struct hook : timer_node {
        timer_state* owner = nullptr;
    };
    static void on_fire(timer_node* node) noexcept;
    bool arm_locked(clock::time_point deadline) noexcept;
    bool stop_locked() noexcept;

    spin_lock lock_;                // protects everything below and the hook's re-arming
    hook hook_;                     // in the wheel while armed (the wheel then holds a reference)
    std::uint64_t seq_ = 0;         // bumped by every arm and stop
    std::uint64_t armed_seq_ = 0;   // seq_ at the last arm
    clock::time_point deadline_{};  // of the last arm
    bool armed_ = false;            // armed, or firing: a delivery is still to come
    std::atomic<std::uint32_t> refs_{1};
};

}  // namespace weft::detail
