// Provides run_queue: a worker's bounded ring of runnable tasks, lock-free for its owner and
// stealable by other workers. The owner pushes and pops at the tail (newest first: fork-join
// runs depth first, so live frames stay O(depth)) and now and then takes the oldest from
// the head (fairness); thieves take the older half from the head. Tail pops follow
// Chase-Lev; head takes and steals follow Go's runqget/runqgrab.
//
// Who may call what
//   owner only:   push, push_batch_reversed, pop_newest, oldest, pop_oldest, take_half (overflow)
//   any worker:   steal_into (the thief passes its own queue as destination), size
//
// Invariants
//   - head_ <= tail_ (as unsigned distances), tail_ - head_ <= capacity.
//   - Slots in [head_, tail_) hold tasks; only the owner writes slots, and only at tail_.
//   - head_ advances only by a successful CAS (owner pop_oldest, overflow, or a thief), so a
//     task taken from the head goes to exactly one consumer. The owner's pop_newest takes
//     the tail slot without a CAS when at least two tasks are queued; for the last one it
//     races thieves with the same CAS on head_ (Chase-Lev).
//
// The tricky races. (1) A thief reads slot h and then CASes head_ from h to h+1; meanwhile
// the owner may take the oldest task or overflow (advancing head_) and push, overwriting
// slots below the old head. Then the thief's CAS fails and it discards what it read, so a
// value read from an overwritten slot is never used (slots are relaxed atomics, so those
// discarded reads are not data races). (2) Thieves claim one slot per CAS: pop_newest takes
// the tail slot without a CAS whenever it sees head_ below it, which is only safe if every
// claim in flight covers exactly the slot at head_ (a batch CAS of h -> h+n once let the
// owner and a thief both run slot h+1).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>

namespace weft::detail {

class run_queue {
public:
    static constexpr std::uint32_t capacity = 256;
    // Pops ahead that pop_newest prefetches: a DRAM miss lasts several tasks (16 beat 4 and 8
    // on bench/sched_spawn_join.cpp with 1 worker, where 1,000,000 frames are cold).
    static constexpr std::uint32_t prefetch_distance = 16;

    // Owner: appends `task`; false if the queue is full (caller overflows with take_half).
    bool push(std::coroutine_handle<> task) noexcept {
        // acquire: pairs with consumers' CAS on head_ so their reads of slots finished
        // before we overwrite those slots.
        const std::uint32_t head = head_.load(std::memory_order_acquire);
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
        if (tail - head >= capacity) return false;
        slots_[tail % capacity].store(task.address(), std::memory_order_relaxed);
        // release: publishes the slot to consumers that acquire tail_.
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Owner: appends `count` tasks in reverse, so that pop_newest returns them in the order
    // given (a FIFO batch from the injection queue stays FIFO). The caller knows they fit.
    // One tail store publishes them all.
    void push_batch_reversed(void* const* tasks, std::uint32_t count) noexcept {
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
        for (std::uint32_t i = 0; i < count; ++i)
            slots_[(tail + count - 1 - i) % capacity].store(tasks[i], std::memory_order_relaxed);
        // release: publishes the slots to consumers that acquire tail_.
        tail_.store(tail + count, std::memory_order_release);
    }

    // `stealable`: false when the owner is the runtime's only worker. Nobody can steal then,
    // so pop_newest needs no fence (head_ and tail_ are written by the owner alone).
    explicit run_queue(bool stealable) noexcept : stealable_(stealable) {}

    // Owner: removes the newest task (Chase-Lev pop), or returns a null handle.
    std::coroutine_handle<> pop_newest() noexcept {
        if (!stealable_) return pop_newest_unshared();
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed) - 1;
        // seq_cst exchange, then seq_cst load: our tail store is ordered before the head load
        // (StoreLoad) against thieves' seq_cst head/tail loads and head CAS. An exchange
        // (a locked xchg) rather than store + fence: on AMD, mfence also waits for every
        // outstanding cache miss, which made this pop the hottest instruction of a spawn.
        tail_.exchange(tail, std::memory_order_seq_cst);
        std::uint32_t head = head_.load(std::memory_order_seq_cst);
        const auto size = static_cast<std::int32_t>(tail - head);
        if (size < 0) {  // empty: undo
            tail_.store(head, std::memory_order_relaxed);
            return {};
        }
        void* task = slots_[tail % capacity].load(std::memory_order_relaxed);
        if (size > 0) {  // thieves stop short of it
            // The tasks after this one are likely next: start loading the frame of the one
            // `prefetch_distance` pops ahead (its lines may have left the cache; the tasks
            // pushed last, nearer the tail, are still warm).
            if (static_cast<std::uint32_t>(size) >= prefetch_distance)
                __builtin_prefetch(slots_[(tail - prefetch_distance) % capacity].load(std::memory_order_relaxed));
            return std::coroutine_handle<>::from_address(task);
        }
        // The last task: thieves may be after it too; one CAS on head decides.
        const bool won =
            head_.compare_exchange_strong(head, head + 1, std::memory_order_seq_cst, std::memory_order_relaxed);
        tail_.store(tail + 1, std::memory_order_relaxed);
        return won ? std::coroutine_handle<>::from_address(task) : std::coroutine_handle<>{};
    }

    // pop_newest when no thief exists: a plain decrement of tail_. (The locked exchange was
    // 5-8% of fib_fork's time on one worker, measured in session 3 with an unsafe plain pop.)
    std::coroutine_handle<> pop_newest_unshared() noexcept {
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
        const std::uint32_t head = head_.load(std::memory_order_relaxed);
        if (tail == head) return {};
        tail_.store(tail - 1, std::memory_order_relaxed);
        if (tail - head > prefetch_distance)
            __builtin_prefetch(slots_[(tail - 1 - prefetch_distance) % capacity].load(std::memory_order_relaxed));
        return std::coroutine_handle<>::from_address(slots_[(tail - 1) % capacity].load(std::memory_order_relaxed));
    }

    // Owner: the oldest task and its position (a null task if empty), without removing it.
    struct oldest_entry {
        std::uint32_t head = 0;
        void* task = nullptr;
    };
    oldest_entry oldest() const noexcept {
        // acquire: as in pop_oldest (the slot is not one a consumer already took and we reused).
        const std::uint32_t head = head_.load(std::memory_order_acquire);
        if (static_cast<std::int32_t>(tail_.load(std::memory_order_relaxed) - head) <= 0) return {};
        return {head, slots_[head % capacity].load(std::memory_order_relaxed)};
    }

    // Owner: removes the oldest task, or returns a null handle.
    std::coroutine_handle<> pop_oldest() noexcept {
        std::uint32_t head = head_.load(std::memory_order_acquire);
        for (;;) {
            const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
            if (static_cast<std::int32_t>(tail - head) <= 0) return {};
            void* task = slots_[head % capacity].load(std::memory_order_relaxed);
            // release: orders our slot read before a later overwrite by push (acquire there).
            if (head_.compare_exchange_weak(head, head + 1, std::memory_order_release, std::memory_order_acquire))
                return std::coroutine_handle<>::from_address(task);
        }
    }

    // Owner, when full: removes the older half into `out` (capacity/2 entries). False if a
    // thief got there first (the queue is then no longer full: push again).
    bool take_half(void** out) noexcept {
        std::uint32_t head = head_.load(std::memory_order_acquire);
        const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
        const std::uint32_t n = (tail - head) / 2;
        if (n != capacity / 2) return false;
        for (std::uint32_t i = 0; i < n; ++i)
            out[i] = slots_[(head + i) % capacity].load(std::memory_order_relaxed);
        return head_.compare_exchange_strong(head, head + n, std::memory_order_release, std::memory_order_relaxed);
    }

    // Thief: moves up to half of this queue's tasks into `dest` (the thief's own queue) and
    // returns one of them to run now, or null if there was nothing to steal. Each task is
    // claimed by its own CAS on head_ (Chase-Lev's steal): one CAS for a whole batch would
    // let the owner's CAS-free pop_newest take a slot the batch already counted.
    std::coroutine_handle<> steal_into(run_queue& dest) noexcept {
        const std::uint32_t dest_tail = dest.tail_.load(std::memory_order_relaxed);  // dest is ours
        const std::uint32_t dest_head = dest.head_.load(std::memory_order_acquire);
        const std::uint32_t room = capacity - (dest_tail - dest_head);
        std::uint32_t want = 0;
        {
            const std::uint32_t head = head_.load(std::memory_order_seq_cst);
            const std::uint32_t tail = tail_.load(std::memory_order_seq_cst);
            const auto available = static_cast<std::int32_t>(tail - head);
            if (available <= 0) return {};
            want = static_cast<std::uint32_t>(available) - static_cast<std::uint32_t>(available) / 2;
            if (want > room + 1) want = room + 1;  // one goes straight to the caller
        }
        void* first = nullptr;
        std::uint32_t moved = 0;
        for (std::uint32_t taken = 0, attempts = 0; taken < want && attempts < 2 * want + 4; ++attempts) {
            // seq_cst (both loads and the CAS): pairs with pop_newest's exchange and head load
            // (StoreLoad): either the owner sees our claim, or we see its tail decrement.
            std::uint32_t head = head_.load(std::memory_order_seq_cst);
            const std::uint32_t tail = tail_.load(std::memory_order_seq_cst);
            if (static_cast<std::int32_t>(tail - head) <= 0) break;
            void* task = slots_[head % capacity].load(std::memory_order_relaxed);
            if (!head_.compare_exchange_strong(head, head + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
                continue;  // another consumer took it: look again
            ++taken;
            if (!first) {
                first = task;
            } else {
                dest.slots_[(dest_tail + moved) % capacity].store(task, std::memory_order_relaxed);
                ++moved;
            }
        }
        // release: publishes the moved slots to whoever steals from us in turn.
        if (moved) dest.tail_.store(dest_tail + moved, std::memory_order_release);
        return first ? std::coroutine_handle<>::from_address(first) : std::coroutine_handle<>{};
    }

    // Any thread: a snapshot of the number of queued tasks.
    std::uint32_t size() const noexcept {
        const std::uint32_t head = head_.load(std::memory_order_acquire);
        const std::uint32_t tail = tail_.load(std::memory_order_acquire);
        const auto n = static_cast<std::int32_t>(tail - head);
        return n > 0 ? static_cast<std::uint32_t>(n) : 0;  // a pop in progress may make it -1
    }
    bool empty() const noexcept { return size() == 0; }

private:
    // Written by the owner (pop/overflow) and thieves, always by CAS; read by all.
    alignas(64) std::atomic<std::uint32_t> head_{0};
    // Written only by the owner (and by a thief on its own queue); read by thieves.
    alignas(64) std::atomic<std::uint32_t> tail_{0};
    std::atomic<void*> slots_[capacity] = {};
    const bool stealable_;  // set at construction: more than one worker
};

}  // namespace weft::detail
