// Provides the sharded timer service (see timer_service.hpp).
#include "time/timer_service.hpp"

#include <weft/detail/scheduler.hpp>

#include <mutex>

namespace weft::detail {

timer_service::timer_service(unsigned shards) : epoch_(clock::now()) {
    shards_.reserve(shards);
    for (unsigned i = 0; i < shards; ++i)
        shards_.push_back(std::make_unique<timer_shard>());
}

std::uint64_t timer_service::deadline_tick(clock::time_point deadline) const noexcept {
    if (deadline <= epoch_) return 0;
    if (deadline == clock::time_point::max()) return timer_shard::never / 2;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - epoch_).count();
    return static_cast<std::uint64_t>(ns / tick_ns + (ns % tick_ns != 0 ? 1 : 0));
}

std::uint64_t timer_service::now_tick(clock::time_point now) const noexcept {
    if (now <= epoch_) return 0;
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - epoch_).count() /
                                      tick_ns);
}

timer_service::clock::time_point timer_service::time_of(std::uint64_t tick) const noexcept {
    // The wheel reports a far tick rounded down to its slot's start (the "never / 2" of an
    // unbounded deadline comes back as a tick below it), so saturate at whatever tick the
    // clock cannot represent, not only at the sentinel: tick * tick_ns must not overflow.
    const auto room = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::time_point::max() - epoch_).count();
    if (tick >= timer_shard::never / 2 || tick > static_cast<std::uint64_t>(room / tick_ns))
        return clock::time_point::max();
    return epoch_ + std::chrono::nanoseconds(static_cast<std::int64_t>(tick) * tick_ns);
}

void timer_service::publish(timer_shard& shard) noexcept {
    const auto next = shard.wheel.next_expiration();
    shard.next_tick.store(next ? *next : timer_shard::never, std::memory_order_release);
}

std::uint64_t timer_service::arm(unsigned index, timer_node& node, clock::time_point deadline) noexcept {
    timer_shard& shard = *shards_[index % shards_.size()];
    std::lock_guard guard(shard.lock);
    std::uint64_t tick = deadline_tick(deadline);
    // Due already: the next tick, so it fires on the next check and never inline.
    if (tick <= shard.wheel.elapsed()) tick = shard.wheel.elapsed() + 1;
    node.tick = tick;
    shard.wheel.insert(&node);
    node.shard.store(&shard, std::memory_order_release);
    // seq_cst: the store half of the Dekker pair with a parking worker (worker::park stores
    // its wake-up tick, then reads next_tick); runtime::timer_armed does the load half.
    if (tick < shard.next_tick.load(std::memory_order_relaxed)) shard.next_tick.store(tick, std::memory_order_seq_cst);
    return tick;
}

bool timer_service::cancel(timer_node& node) noexcept {
    timer_shard* shard = node.shard.load(std::memory_order_acquire);
    if (!shard) return false;
    std::lock_guard guard(shard->lock);
    if (node.shard.load(std::memory_order_relaxed) != shard) return false;  // fired meanwhile
    shard->wheel.remove(&node);
    node.shard.store(nullptr, std::memory_order_relaxed);
    // next_tick may now be early: harmless (a check finds nothing due and re-publishes).
    return true;
}

std::uint64_t timer_service::earliest_tick() const noexcept {
    std::uint64_t earliest = timer_shard::never;
    for (const auto& shard : shards_) {
        const std::uint64_t t = shard->next_tick.load(std::memory_order_acquire);
        if (t < earliest) earliest = t;
    }
    return earliest;
}

std::size_t timer_service::fire_due(clock::time_point now, unsigned first, bool all) noexcept {
    return fire_due_at(now_tick(now), first, all);
}

std::size_t timer_service::fire_due_at(std::uint64_t tick, unsigned first, bool all) noexcept {
    const unsigned n = size();
    std::size_t fired = 0;
    wake_batch batch;  // sleepers woken here reach the scheduler in batches
    for (unsigned k = 0; k < (all ? n : 1u); ++k) {
        timer_shard& shard = *shards_[(first + k) % n];
        if (shard.next_tick.load(std::memory_order_acquire) > tick) continue;
        timer_node* due = nullptr;
        {
            std::lock_guard guard(shard.lock);
            due = shard.wheel.advance(tick);
            for (timer_node* node = due; node; node = node->next) {
                node->firing.store(true, std::memory_order_relaxed);
                node->shard.store(nullptr, std::memory_order_relaxed);
            }
            publish(shard);
        }
        // advance() chains the due nodes latest-first: reverse to fire in deadline order.
        timer_node* ordered = nullptr;
        while (due) {
            timer_node* next = due->next;
            due->next = ordered;
            ordered = due;
            due = next;
        }
        while (ordered) {
            timer_node* next = ordered->next;  // read first: the callback may free the node
            ordered->fire(ordered);
            ordered = next;
            ++fired;
        }
    }
    return fired;
}

void timer_service::fire_all_for_shutdown() noexcept {
    for (unsigned i = 0; i < size(); ++i) {
        for (;;) {
            timer_shard& shard = *shards_[i];
            if (shard.wheel.empty()) break;
            fire_due_at(timer_shard::never, i, false);
        }
    }
}

}  // namespace weft::detail
