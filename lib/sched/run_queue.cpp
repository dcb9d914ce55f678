// Provides run_queue's out-of-line parts: steals (fenced and light), the owner's slow paths,
// and the switch between the two pop protocols.
//
// The light protocol and why it loses no task and runs none twice
//   Owner pop (pop_newest_light), at tail t:  load head; if empty return. Store tail = t-1;
//     compiler barrier; load head h'. Above h' (t-1 > h'): slot t-1 is ours, no RMW. At h'
//     (t-1 == h'): CAS head from h' to h'+1, as in Chase-Lev. Otherwise (below h', or the
//     CAS lost): settle_pop, with tail still t-1.
//   Thief (steal_light), holding lock_:  read head h and tail, pick n; claim by CAS
//     (floor, head) from (h, h) to (h, h+n); heavy_barrier; read tail t'; take the slots
//     [h, min(h+n, t')), read only now; then CAS (floor, head) to (e, e), where e = h+n if
//     t' >= h+n, else e = t' (hand back the part of the claim the owner popped).
//   The barrier runs a full fence on the owner at some point P of its execution. Every
//   owner store before P is visible to the thief's read of t'; every owner load after P
//   sees the claim. Take an owner pop of slot x = t-1 without RMW (x > h'):
//     - its head load came before P: then so did its tail store (program order and the
//       compiler barrier), so t' <= x and the thief's range stops below x;
//     - it came after P: then h' >= h+n, and x > h' is above the claim.
//   An owner pop at h' uses CAS, like the claim: one of the two wins. So the owner and the
//   thief never both take a slot. Nothing is lost: the owner's tail moves only by its own
//   pushes and pops, t' is one of its values after P, and after P the owner stores tail
//   only in ways the thief's choice of e covers: a pop above h+n (outside the claim), a
//   pop at h+n (its CAS; then t' >= h+n, so the thief does not lower head), a pop that
//   goes to settle_pop with tail lowered to x (the thief took slot x iff t' > x; settle_pop
//   reads which under lock_), and pushes, which see head > tail and wait in push_settled
//   when the claim passed the tail. So after settling, head <= tail and [head, tail) are
//   exactly the tasks nobody took. The owner pops only at the tail and a stale head is at
//   most one claim behind (each light steal ends with a barrier, each fenced one with the
//   owner's exchange, and a mode change with lock_), so no owner pop goes below h.
//   The slots stay readable until the thief's final CAS: pushes check tail - floor, and
//   the floor stays at h until then.
//
// The fenced protocol is Chase-Lev with one CAS per claimed slot (a batch CAS of h -> h+n
// once let the owner's CAS-free pop and a thief both run slot h+1: without the barrier,
// nothing bounds how stale the thief's tail is).
#include "sched/run_queue.hpp"

#include "sched/heavy_barrier.hpp"

#include <algorithm>
#include <mutex>

namespace weft::detail {

bool run_queue::push_settled(std::coroutine_handle<> task) noexcept {
    std::lock_guard guard(lock_);  // the light steal in flight has settled: head <= tail
    const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t word = head_.load(std::memory_order_relaxed);  // lock_ ordered it
    if (tail - floor_of(word) >= capacity) return false;
    slots_[tail % capacity].store(task.address(), std::memory_order_relaxed);
    // release: as in push.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
}

std::coroutine_handle<> run_queue::settle_pop(std::uint32_t tail) noexcept {
    std::lock_guard guard(lock_);  // the light steal in flight has settled
    const std::uint32_t head = head_of(head_.load(std::memory_order_relaxed));
    if (static_cast<std::int32_t>(tail - head) >= 0)  // the thief stopped below slot `tail`
        return std::coroutine_handle<>::from_address(slots_[tail % capacity].load(std::memory_order_relaxed));
    tail_.store(head, std::memory_order_relaxed);  // it took slot `tail` too: empty
    return {};
}

// A light steal is in flight and either claimed past our tail, or holds a floor so low that
// `count` more tasks would overwrite slots it has yet to read. The thief may be descheduled
// between its claim and its reads while we run hundreds of tasks, so this happens: the
// batch then waits under lock_ for the steal to settle (floor == head again, and the
// caller's queue is empty, so the batch fits).
bool run_queue::must_wait_for_steal(std::uint32_t tail, std::uint32_t count) const noexcept {
    // acquire: as in push.
    const std::uint64_t word = head_.load(std::memory_order_acquire);
    return static_cast<std::int32_t>(tail - head_of(word)) < 0 || tail + count - floor_of(word) > capacity;
}

void run_queue::push_batch(void* const* tasks, std::uint32_t count) noexcept {
    if (count == 0) return;
    std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
    const bool settling = must_wait_for_steal(tail, count);
    if (settling) lock_.lock();
    for (std::uint32_t i = 0; i < count; ++i)
        slots_[(tail + i) % capacity].store(tasks[i], std::memory_order_relaxed);
    tail += count;
    // release: publishes the slots to consumers that acquire tail_.
    tail_.store(tail, std::memory_order_release);
    if (settling) lock_.unlock();
}

void run_queue::push_batch_reversed(void* const* tasks, std::uint32_t count) noexcept {
    const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // only we write it
    const bool settling = must_wait_for_steal(tail, count);
    if (settling) lock_.lock();  // as in push_batch
    for (std::uint32_t i = 0; i < count; ++i)
        slots_[(tail + count - 1 - i) % capacity].store(tasks[i], std::memory_order_relaxed);
    // release: publishes the slots to consumers that acquire tail_.
    tail_.store(tail + count, std::memory_order_release);
    if (settling) lock_.unlock();
}

std::coroutine_handle<> run_queue::pop_oldest() noexcept {
    std::lock_guard guard(lock_);  // no thief in flight: head <= tail, floor == head
    const std::uint32_t head = head_of(head_.load(std::memory_order_relaxed));
    if (static_cast<std::int32_t>(tail_.load(std::memory_order_relaxed) - head) <= 0) return {};
    void* task = slots_[head % capacity].load(std::memory_order_relaxed);
    // seq_cst: in fenced mode, the owner's pop and later thieves order against it as
    // against a thief's claim.
    head_.store(pack(head + 1, head + 1), std::memory_order_seq_cst);
    return std::coroutine_handle<>::from_address(task);
}

bool run_queue::take_half(void** out) noexcept {
    std::lock_guard guard(lock_);  // as in pop_oldest
    const std::uint32_t head = head_of(head_.load(std::memory_order_relaxed));
    const std::uint32_t n = (tail_.load(std::memory_order_relaxed) - head) / 2;
    if (n != capacity / 2) return false;
    for (std::uint32_t i = 0; i < n; ++i)
        out[i] = slots_[(head + i) % capacity].load(std::memory_order_relaxed);
    head_.store(pack(head + n, head + n), std::memory_order_seq_cst);  // seq_cst: as in pop_oldest
    return true;
}

std::uint32_t run_queue::steal(void** out, std::uint32_t max) noexcept {
    if (empty() || !lock_.try_lock()) return 0;  // nothing to take, or another thief is here
    const std::uint32_t taken = light_ ? steal_light(out, max) : steal_fenced(out, max);
    // Only thieves write it, under lock_: a plain increment.
    if (taken) thief_visits_.store(thief_visits_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    lock_.unlock();
    return taken;
}

namespace {
// Half of `available`, rounded up, and at most `max`.
std::uint32_t share_of(std::int32_t available, std::uint32_t max) noexcept {
    const auto n = static_cast<std::uint32_t>(available);
    return std::min(n - n / 2, max);
}
}  // namespace

std::uint32_t run_queue::steal_fenced(void** out, std::uint32_t max) noexcept {
    const std::uint32_t head = head_of(head_.load(std::memory_order_seq_cst));
    const auto available = static_cast<std::int32_t>(tail_.load(std::memory_order_seq_cst) - head);
    if (available <= 0) return 0;
    const std::uint32_t want = share_of(available, max);
    std::uint32_t taken = 0;
    for (std::uint32_t attempts = 0; taken < want && attempts < 2 * want + 4; ++attempts) {
        // seq_cst (both loads and the CAS): pairs with pop_newest_fenced's exchange and head
        // load (StoreLoad): either the owner sees our claim, or we see its tail decrement.
        std::uint64_t word = head_.load(std::memory_order_seq_cst);
        const std::uint32_t at = head_of(word);
        if (static_cast<std::int32_t>(tail_.load(std::memory_order_seq_cst) - at) <= 0) break;
        void* task = slots_[at % capacity].load(std::memory_order_relaxed);
        // The slot was read before the CAS: the floor moves with the head.
        if (!head_.compare_exchange_strong(word, pack(at + 1, at + 1), std::memory_order_seq_cst,
                                           std::memory_order_relaxed))
            continue;  // the owner took it: look again
        out[taken++] = task;
    }
    return taken;
}

std::uint32_t run_queue::steal_light(void** out, std::uint32_t max) noexcept {
    std::uint64_t word = head_.load(std::memory_order_acquire);
    const std::uint32_t head = head_of(word);
    // acquire: the slots below the tail were published by the owner's release store.
    const auto available = static_cast<std::int32_t>(tail_.load(std::memory_order_acquire) - head);
    if (available <= 0) return 0;
    const std::uint32_t want = share_of(available, max);
    // The claim; the floor stays at `head` until the slots are read. Fails only against the
    // owner's last-task CAS (no other thief holds lock_): then that task is gone.
    if (!head_.compare_exchange_strong(word, pack(head, head + want), std::memory_order_seq_cst,
                                       std::memory_order_relaxed))
        return 0;
    if (after_light_claim_for_tests) [[unlikely]]
        after_light_claim_for_tests();
    heavy_barrier();
    // acquire: as above; after the barrier this is the owner's tail at or after P.
    const auto left = static_cast<std::int32_t>(tail_.load(std::memory_order_acquire) - head);
    const std::uint32_t got = left <= 0 ? 0 : std::min(want, static_cast<std::uint32_t>(left));
    for (std::uint32_t i = 0; i < got; ++i)
        out[i] = slots_[(head + i) % capacity].load(std::memory_order_relaxed);
    // Settle. If we hand back part of the claim, the owner is waiting (it sees head past its
    // tail) and head is still ours to lower; otherwise only the floor moves, and the owner's
    // last-task CAS may have moved the head meanwhile: CAS until it holds.
    word = head_.load(std::memory_order_relaxed);
    for (;;) {
        const std::uint32_t settled = got < want ? head + got : head_of(word);
        // release: our slot reads are done before the owner reuses the slots (push's acquire).
        if (head_.compare_exchange_weak(word, pack(settled, settled), std::memory_order_release,
                                        std::memory_order_relaxed))
            return got;
    }
}

void run_queue::set_light(bool light) noexcept {
    std::lock_guard guard(lock_);  // no steal in flight reads the old protocol
    light_ = light;
}

}  // namespace weft::detail
