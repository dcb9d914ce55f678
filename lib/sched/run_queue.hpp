// Provides run_queue: a worker's bounded ring of runnable tasks, lock-free for its owner and
// stealable by other workers. The owner pushes and pops at the tail (newest first: fork-join
// runs depth first, so live frames stay O(depth)) and now and then takes the oldest from
// the head (fairness); thieves take the older half from the head. Tail pops follow
// Chase-Lev; the proof of the light protocol is in run_queue.cpp.
//
// Who may call what
//   owner only:   push, push_batch, push_batch_reversed, pop_newest, oldest, pop_oldest,
//                 take_half (overflow), adapt_to_thieves
//   any worker:   steal (into a buffer the thief then pushes to its own queue), size
//
// Two protocols for the owner's pop, chosen per queue by the owner (adapt_to_thieves):
//   fenced  the tail store and the head load are separated by a locked exchange (a
//           StoreLoad barrier), as in Chase-Lev; thieves need no barrier.
//   light   a plain tail store and only a compiler barrier; a thief pays instead, with a
//           membarrier (heavy_barrier.hpp) between claiming slots and reading the tail.
// A locked instruction costs 3-12 ns on the 2-core machines, and fork-join code pops once
// per task: the exchange was 17% of bench/sched_fib_fork.cpp's samples on 2 workers (perf,
// session 12), and a membarrier costs ~2.2 us. So a queue runs light while steals are rare
// and fenced while they are frequent (after a steal, until a quiet period of the owner's
// periodic ticks passes without one), which bounds the cost of the wrong guess either way
// (ski rental); the quiet period adapts to how soon steals return (adapt_to_thieves). Where membarrier is unavailable
// (ThreadSanitizer, old kernels) queues stay fenced.
//
// Locking. `lock_` serializes thieves (a thief that finds it held skips this victim), mode
// changes, and the owner's head-side operations (pop_oldest, take_half) and slow paths. It is
// a leaf lock: nothing else is taken while holding it; it may be taken under the injection
// queue's lock (inject_queue::pop_into pushes here).
//
// Invariants (positions are unsigned and wrap; "a <= b" means as distances)
//   - Slots in [head, tail) hold tasks; only the owner writes slots, and only at tail_.
//   - floor <= head. floor == head except while a light steal reads the slots it claimed,
//     [floor, head); the owner does not overwrite slots at or above floor (push checks
//     tail - floor against capacity).
//   - head <= tail whenever lock_ is free. During a light steal, head may pass the tail (the
//     thief claimed slots the owner popped meanwhile); the thief lowers it before it unlocks,
//     and the owner, seeing head > tail, waits for that (push_settled, settle_pop).
//   - Every task leaves through exactly one of: the owner's pop at the tail, a claim of head
//     by CAS (owner or thief), or a light steal's settled range.
#pragma once

#include <algorithm>
#include <atomic>
#include <coroutine>
#include <cstdint>

#include <weft/detail/spin_lock.hpp>

namespace weft::detail {

class run_queue {
public:
    static constexpr std::uint32_t capacity = 256;
    // Pops ahead that pop_newest prefetches: a DRAM miss lasts several tasks (16 beat 4 and 8
    // on bench/sched_spawn_join.cpp with 1 worker, where 1,000,000 frames are cold).
    static constexpr std::uint32_t prefetch_distance = 16;
    // The owner's periodic ticks (every 16 tasks at most, worker.cpp) without a steal
    // before a fenced queue goes light again, at first: ~256 fenced pops cost about one
    // membarrier. It doubles (to max_quiet_ticks) whenever a steal comes within 4 quiet
    // periods of going light, and halves after a longer light stretch.
    static constexpr std::uint32_t quiet_ticks_for_light = 16;
    // The most the quiet period grows to, where steals keep arriving soon after the queue
    // goes light (bench/chan_select.cpp): ~16,000 fenced pops.
    static constexpr std::uint32_t max_quiet_ticks = 1024;

    // `stealable`: false when the owner is the runtime's only worker (nobody steals: pops
    // need no barrier at all). `light_allowed`: heavy_barrier_available().
    run_queue(bool stealable, bool light_allowed) noexcept
        : stealable_(stealable), light_allowed_(stealable && light_allowed) {}

    // Owner: appends `task` if that needs no wait and no lock: false if the queue is full or
    // a light steal in flight claimed past the tail (then push decides). Calls nothing, so
    // a caller whose other paths are tail calls keeps no registers on its fast path.
    bool try_push(std::coroutine_handle<> task) noexcept {
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
        // acquire: pairs with consumers' release of head_, so their reads of the slots below
        // the floor finished before we overwrite those slots.
        const std::uint64_t word = head_.load(std::memory_order_acquire);
        if (static_cast<std::int32_t>(tail - head_of(word)) < 0 || tail - floor_of(word) >= capacity) [[unlikely]]
            return false;
        slots_[tail % capacity].store(task.address(), std::memory_order_relaxed);
        // release: publishes the slot (and the task's frame) to consumers that acquire tail_.
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Owner: appends `task`; false if the queue is full (caller overflows with take_half).
    bool push(std::coroutine_handle<> task) noexcept {
        if (try_push(task)) [[likely]]
            return true;
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
        // acquire: pairs with consumers' release of head_, so their reads of the slots below
        // the floor finished before we overwrite those slots.
        const std::uint64_t word = head_.load(std::memory_order_acquire);
        if (static_cast<std::int32_t>(tail - head_of(word)) < 0)
            return push_settled(task);  // a light steal claimed past our tail: wait for it
        // Full, or a steal settled since try_push looked (not full now: the caller retries).
        return false;
    }

    // Owner: appends `count` tasks in order (the last one is popped first). They fit: the
    // caller's queue is empty (a thief storing what it stole).
    void push_batch(void* const* tasks, std::uint32_t count) noexcept;
    // Owner: appends `count` tasks in reverse, so that pop_newest returns them in the order
    // given (a FIFO batch from the injection queue stays FIFO). The caller knows they fit.
    void push_batch_reversed(void* const* tasks, std::uint32_t count) noexcept;

    // Owner: removes the newest task, or returns a null handle.
    [[gnu::always_inline]] std::coroutine_handle<> pop_newest() noexcept {
        if (!stealable_) return pop_newest_unshared();
        if (light_) return pop_newest_light();
        return pop_newest_fenced();
    }

    // Owner: the oldest task and its position (a null task if empty), without removing it.
    struct oldest_entry {
        std::uint32_t head = 0;
        void* task = nullptr;
    };
    oldest_entry oldest() const noexcept {
        // acquire: as in push (the slot is not one a consumer already took and we reused).
        const std::uint32_t head = head_of(head_.load(std::memory_order_acquire));
        if (static_cast<std::int32_t>(tail_.load(std::memory_order_relaxed) - head) <= 0) return {};
        return {head, slots_[head % capacity].load(std::memory_order_relaxed)};
    }

    // Owner: removes the oldest task, or returns a null handle.
    std::coroutine_handle<> pop_oldest() noexcept;
    // Owner, when full: removes the older half into `out` (capacity/2 entries). False if a
    // thief got there first (the queue is then no longer full: push again).
    bool take_half(void** out) noexcept;

    // Thief: moves up to half of this queue's tasks, at most `max`, into `out`, and returns
    // how many (0 if the queue is empty or another thief is at it).
    std::uint32_t steal(void** out, std::uint32_t max) noexcept;

    // Owner, at its periodic tick: picks the pop protocol for the next ticks (see the top).
    void adapt_to_thieves() noexcept {
        if (!light_allowed_) return;
        const std::uint32_t visits = thief_visits_.load(std::memory_order_relaxed);
        if (visits != seen_visits_) {
            seen_visits_ = visits;
            quiet_ticks_ = 0;
            if (light_) {
                // A steal soon after going light did not repay the fenced pops saved: wait
                // longer next time; after a long light stretch, wait less.
                if (light_ticks_ < 4 * quiet_needed_) {
                    quiet_needed_ = std::min(2 * quiet_needed_, max_quiet_ticks);
                } else {
                    quiet_needed_ = std::max(quiet_needed_ / 2, quiet_ticks_for_light);
                }
                set_light(false);
            }
        } else if (light_) {
            ++light_ticks_;
        } else if (++quiet_ticks_ >= quiet_needed_) {
            light_ticks_ = 0;
            set_light(true);
        }
    }

    // Owner: whether pops use the light protocol now (tests check that both run).
    bool light() const noexcept { return light_; }
    // Tests only: called by a light steal between its claim and its reads of the slots, to
    // stand for a thief descheduled there. Null in the library.
    static inline void (*after_light_claim_for_tests)() = nullptr;

    // Any thread: a snapshot of the number of queued tasks.
    std::uint32_t size() const noexcept {
        const std::uint32_t head = head_of(head_.load(std::memory_order_acquire));
        const std::uint32_t tail = tail_.load(std::memory_order_acquire);
        const auto n = static_cast<std::int32_t>(tail - head);
        return n > 0 ? static_cast<std::uint32_t>(n) : 0;  // a pop or light steal in progress
    }
    bool empty() const noexcept { return size() == 0; }

private:
    // head_ packs the floor (high half) and the head (low half), so a claim and the floor
    // it moves change together.
    static constexpr std::uint64_t pack(std::uint32_t floor, std::uint32_t head) noexcept {
        return (std::uint64_t{floor} << 32) | head;
    }
    static constexpr std::uint32_t head_of(std::uint64_t word) noexcept { return static_cast<std::uint32_t>(word); }
    static constexpr std::uint32_t floor_of(std::uint64_t word) noexcept {
        return static_cast<std::uint32_t>(word >> 32);
    }
    // The owner's claim of the last task at `head` (word = its floor and head): the floor
    // follows the head unless a light steal still reads below it.
    static constexpr std::uint64_t after_taking_head(std::uint64_t word) noexcept {
        const std::uint32_t head = head_of(word) + 1;
        return pack(floor_of(word) == head_of(word) ? head : floor_of(word), head);
    }

    // Chase-Lev's pop with a StoreLoad barrier.
    std::coroutine_handle<> pop_newest_fenced() noexcept {
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed) - 1;
        // seq_cst exchange, then seq_cst load: our tail store is ordered before the head load
        // (StoreLoad) against thieves' seq_cst head/tail loads and head CAS. An exchange
        // (a locked xchg) rather than store + fence: on AMD, mfence also waits for every
        // outstanding cache miss, which made this pop the hottest instruction of a spawn.
        tail_.exchange(tail, std::memory_order_seq_cst);
        std::uint64_t word = head_.load(std::memory_order_seq_cst);
        const std::uint32_t head = head_of(word);
        const auto size = static_cast<std::int32_t>(tail - head);
        if (size < 0) {  // empty: undo
            tail_.store(head, std::memory_order_relaxed);
            return {};
        }
        void* task = slots_[tail % capacity].load(std::memory_order_relaxed);
        if (size > 0) return took_newest(task, static_cast<std::uint32_t>(size), tail);
        // The last task: thieves may be after it too; one CAS on head decides.
        const bool won = head_.compare_exchange_strong(word, after_taking_head(word), std::memory_order_seq_cst,
                                                       std::memory_order_relaxed);
        tail_.store(tail + 1, std::memory_order_relaxed);
        return won ? std::coroutine_handle<>::from_address(task) : std::coroutine_handle<>{};
    }

    // The light pop: no barrier but the compiler's. Anything unusual (a thief's claim in
    // the way) is settled under lock_ with the tail still lowered: the tail store is our
    // claim of slot `tail`, and must not be taken back while a thief may have read it.
    std::coroutine_handle<> pop_newest_light() noexcept {
        const std::uint32_t old_tail = tail_.load(std::memory_order_relaxed);
        // Empty (or emptied by a light steal in flight, which leaves nothing behind): no store.
        if (static_cast<std::int32_t>(old_tail - head_of(head_.load(std::memory_order_relaxed))) <= 0) return {};
        const std::uint32_t tail = old_tail - 1;
        tail_.store(tail, std::memory_order_relaxed);
        // The light half of the Dekker pair with steal_light: the head load stays after the
        // tail store in program order; the thief's heavy_barrier orders them for the CPU.
        std::atomic_signal_fence(std::memory_order_seq_cst);
        std::uint64_t word = head_.load(std::memory_order_relaxed);
        const auto size = static_cast<std::int32_t>(tail - head_of(word));
        void* task = slots_[tail % capacity].load(std::memory_order_relaxed);
        if (size > 0) return took_newest(task, static_cast<std::uint32_t>(size), tail);
        if (size == 0 && head_.compare_exchange_strong(word, after_taking_head(word), std::memory_order_seq_cst,
                                                       std::memory_order_relaxed)) {
            tail_.store(old_tail, std::memory_order_relaxed);  // empty: head == tail again
            return std::coroutine_handle<>::from_address(task);
        }
        return settle_pop(tail);
    }

    // Took `task` from slot `tail` with `size` more queued below it.
    std::coroutine_handle<> took_newest(void* task, std::uint32_t size, std::uint32_t tail) const noexcept {
        // The tasks below this one are likely next: start loading the frame of the one
        // `prefetch_distance` pops ahead (its lines may have left the cache; the tasks
        // pushed last, nearer the tail, are still warm).
        if (size >= prefetch_distance)
            __builtin_prefetch(slots_[(tail - prefetch_distance) % capacity].load(std::memory_order_relaxed));
        // Slots hold tasks only (nothing pushes a null handle): the caller's empty test folds.
        if (!task) __builtin_unreachable();
        return std::coroutine_handle<>::from_address(task);
    }

    // pop_newest when no thief exists: a plain decrement of tail_. (The locked exchange was
    // 5-8% of fib_fork's time on one worker, measured in session 3 with an unsafe plain pop.)
    std::coroutine_handle<> pop_newest_unshared() noexcept {
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
        const std::uint32_t head = head_of(head_.load(std::memory_order_relaxed));
        if (tail == head) return {};
        tail_.store(tail - 1, std::memory_order_relaxed);
        if (tail - head > prefetch_distance)
            __builtin_prefetch(slots_[(tail - 1 - prefetch_distance) % capacity].load(std::memory_order_relaxed));
        void* task = slots_[(tail - 1) % capacity].load(std::memory_order_relaxed);
        if (!task) __builtin_unreachable();  // as in took_newest
        return std::coroutine_handle<>::from_address(task);
    }

    // Out of line (run_queue.cpp): the slow paths, steals, and mode changes.
    bool push_settled(std::coroutine_handle<> task) noexcept;
    bool must_wait_for_steal(std::uint32_t tail, std::uint32_t count) const noexcept;
    std::coroutine_handle<> settle_pop(std::uint32_t tail) noexcept;
    std::uint32_t steal_fenced(void** out, std::uint32_t max) noexcept;
    std::uint32_t steal_light(void** out, std::uint32_t max) noexcept;
    void set_light(bool light) noexcept;

    // Floor and head (pack). Written by CAS by thieves and by the owner's last-task pop, and
    // by plain stores only under lock_ (thieves settling a light steal use CAS too, since
    // the owner's last-task CAS may run beside them).
    alignas(64) std::atomic<std::uint64_t> head_{0};
    // Written only by the owner; read by thieves.
    alignas(64) std::atomic<std::uint32_t> tail_{0};
    // Owner only, written under lock_ (read by thieves under it): the pop protocol in use.
    bool light_ = false;
    std::uint32_t seen_visits_ = 0;                       // owner only: thief_visits_ at the last tick that changed
    std::uint32_t quiet_ticks_ = 0;                       // owner only: ticks since then
    std::uint32_t light_ticks_ = 0;                       // owner only: ticks since the queue last went light
    std::uint32_t quiet_needed_ = quiet_ticks_for_light;  // owner only: quiet ticks before light
    const bool stealable_;                                // set at construction: more than one worker
    const bool light_allowed_;                            // set at construction: stealable and membarrier works
    std::atomic<void*> slots_[capacity] = {};
    // Serializes thieves, mode changes and the owner's slow paths (see the top).
    alignas(64) spin_lock lock_;
    // Successful steals; written by thieves under lock_, read by the owner at its ticks.
    std::atomic<std::uint32_t> thief_visits_{0};
};

}  // namespace weft::detail
