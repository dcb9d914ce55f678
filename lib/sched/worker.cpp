// Provides the worker loop: which task runs next, stealing, and parking.
//
// The loop, one iteration per task
//   1. Every 61st tick, take one task from the injection queue first, so tasks queued there
//      (overflow, other threads) cannot starve behind local work (Go's schedtick % 61).
//      Not while the local queue holds only a batch taken from the injection queue: its
//      next task is older still, and global FIFO order is kept.
//      On the same tick, the oldest local task goes first if it has been the oldest for
//      1 ms, so the run queue's LIFO order (below) cannot starve an old task.
//   2. The LIFO slot: the task most recently woken by the running task. It runs next for
//      cache locality (a ping-pong pair stays on one core), at most `max_lifo_streak`
//      times in a row; then one queued task runs first, so the pair cannot starve the queue.
//   3. The local run queue, newest first: a spawned task goes there (stealable), and
//      fork-join code then runs depth first with O(depth) live frames, as in Cilk, while
//      thieves take the oldest (largest) work. Then a batch from the injection queue.
//   4. Search: if fewer than half the workers are searching, steal half of a random
//      victim's queue (trying every victim once), then the injection queue.
//   5. Spin: a searcher that found nothing keeps searching, with `pause` between rounds,
//      for up to `spin_window` before it parks. Work that appears meanwhile (a wake-up
//      across workers, a producer that just refilled a queue) is found in well under a
//      microsecond, and its producer skips the futex wake (it sees a searcher). Parking
//      costs a membarrier IPI to every running worker plus a futex wake by the next
//      producer, so a worker that would park and be woken again within a few microseconds
//      (ping-pong across workers, select) costs far more than the spin. An idle runtime
//      still parks after one window: it uses no CPU.
//   6. Park (idle.cpp): fire due timers of every shard first, and at most once a second let
//      the frame pool return free memory to the OS (slab_release.cpp); then the futex wait, with
//      a timeout at the earliest timer deadline of all shards (none if there is no timer),
//      or sooner if the pool held memory back for a later look; no CPU is used until then,
//      notify_one, or stop.
//   Timers are also checked every `timer_interval` tasks while busy (one clock read).
//
// The LIFO slot is private to its worker (Tokio's rule): pushing into an empty slot wakes
// nobody, since the running worker will take it next; displacing a task into the
// stealable queue notifies a parked worker. A task that never suspends delays only the one
// task in its worker's LIFO slot. Yielding tasks and tasks woken in batches (timers) go to
// the injection queue, behind everything already runnable.
#include "sched/worker.hpp"

#include "mem/frame_pool.hpp"
#include "sched/futex.hpp"
#include "sched/heavy_barrier.hpp"
#include "sched/runtime.hpp"

#include <weft/detail/promise.hpp>
#include <weft/detail/spin_lock.hpp>

#include <chrono>
#include <thread>
#include <utility>

namespace weft::detail {
namespace {
constexpr std::uint32_t max_lifo_streak = 3;
constexpr std::uint32_t inject_interval = 61;
constexpr std::uint32_t timer_interval = 16;
// How long the oldest local task may wait behind newer local work (take_starved_oldest).
constexpr auto starvation_bound = std::chrono::milliseconds(1);
// How long a searcher that finds nothing keeps looking before it parks.
constexpr auto spin_window = std::chrono::microseconds(50);
// `pause` instructions between two search rounds while spinning (~1-4 us on current x86).
constexpr int pauses_per_round = 64;

}  // namespace

worker::worker(runtime& rt, unsigned index, unsigned workers) noexcept
    : rt_(rt),
      idle_(rt.idle()),
      index_(index),
      queue_(workers > 1, heavy_barrier_available()),
      rng_(0x9e3779b9u * (index + 1)) {}

std::uint32_t worker::random() noexcept {
    // xorshift32: victim selection only.
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    return rng_;
}

void worker::push_contended(std::coroutine_handle<> task) noexcept {
    if (!queue_.push(task)) push_overflowing(task);
    idle_.notify_one();
}

void worker::push_overflowing(std::coroutine_handle<> task) noexcept {
    do {
        void* half[run_queue::capacity / 2];
        if (queue_.take_half(half)) rt_.inject().push_batch(half, run_queue::capacity / 2);
    } while (!queue_.push(task));
}

// The common case inline: no periodic tick due, then the LIFO slot or the newest queued task.
// Forced inline: with two callers (run, spin) clang kept it out of line, and inlining it into
// run took 3.3% of fib_fork's instructions and 3.7% of spawn_join's (callgrind, 1 worker).
[[gnu::always_inline]] inline std::coroutine_handle<> worker::next_local() noexcept {
    if (--countdown_ == 0) [[unlikely]] {
        if (auto task = on_periodic_tick()) return task;
    }
    if (lifo_) {
        if (lifo_streak_ < max_lifo_streak) {
            ++lifo_streak_;
            return std::exchange(lifo_, {});
        }
        return next_after_lifo_streak();
    }
    lifo_streak_ = 0;
    if (auto task = queue_.pop_newest()) return task;
    return next_from_inject();
}

// Steps 1 and the timer check: one countdown covers both intervals, so the hot path pays a
// single decrement.
std::coroutine_handle<> worker::on_periodic_tick() noexcept {
    ticks_ += countdown_span_;
    const auto to_timer = static_cast<std::uint32_t>(timer_interval - ticks_ % timer_interval);
    const auto to_fairness = static_cast<std::uint32_t>(inject_interval - ticks_ % inject_interval);
    countdown_span_ = std::min(to_timer, to_fairness);
    countdown_ = countdown_span_;
    if (to_timer == timer_interval) fire_timers(false);
    queue_.adapt_to_thieves();
    adapt_light_joins();
    if (to_fairness == inject_interval) {
        // Fairness: the oldest global task, else the oldest local one, goes first. Unless the
        // local queue holds only a batch from the injection queue: its next task is older than
        // the injection queue's head, so the global queue is already served in order, and
        // taking the head would run it ahead of its elders. That reordering also scrambled
        // the frame pool a little more every round (frames are freed in the order tasks end
        // and handed out again as a stack): in bench/sched_spawn_join.cpp on one worker the
        // run order went from 96% to 74% address-sequential over 8 rounds, and stays at 99.9%
        // without it.
        if (queue_is_inject_batch_ && !queue_.empty()) return {};
        if (auto task = rt_.inject().pop()) return task;
        if (auto task = take_starved_oldest()) return task;
    }
    return {};
}

// Light joins for the tasks this worker spawns (join.cpp): off (home 0) from a tick that
// sees a remote half, on again after a quiet period of ticks. The period doubles (to 4096
// ticks, ~65,000 tasks) when remote halves return within 4 periods of light joins going on,
// and halves after a longer light stretch: a membarrier costs about 150 locked instructions,
// so light joins pay while fewer than about one join in 150 goes remote.
void worker::adapt_light_joins() noexcept {
    constexpr std::uint32_t min_pause = 16;
    constexpr std::uint32_t max_pause = 4096;
    if (t_join_slot == 0) return;  // light joins unavailable
    const std::uint64_t hits = remote_joins_.load(std::memory_order_relaxed);
    if (hits != seen_remote_joins_) {
        seen_remote_joins_ = hits;
        light_join_quiet_ = 0;
        if (t_spawn_home != 0) {
            light_join_pause_ = light_join_on_ticks_ < 4 * light_join_pause_
                                    ? std::min(2 * light_join_pause_, max_pause)
                                    : std::max(light_join_pause_ / 2, min_pause);
            t_spawn_home = 0;
        }
    } else if (t_spawn_home != 0) {
        ++light_join_on_ticks_;
    } else if (++light_join_quiet_ >= light_join_pause_) {
        light_join_on_ticks_ = 0;
        t_spawn_home = t_join_slot;
    }
}

// Fairness for the local queue: its oldest task runs first once it has sat at the head for
// `starvation_bound` (seen at two fairness ticks at least that far apart). Not simply every
// 61st tick: in fork-join code the oldest entry is the biggest pending subtree, and starting
// it early breaks the depth-first order, so live frames and the queue grow: with that rule
// fib(30) on 2 workers overflowed ~300 times a round and took a median 29.7 ms, against
// 25.1 ms with this one (bench/sched_fib_fork.cpp, the 2-core VM). The clock is read only
// when the same task is still the oldest.
std::coroutine_handle<> worker::take_starved_oldest() noexcept {
    const run_queue::oldest_entry oldest = queue_.oldest();
    if (oldest.task != oldest_.task || oldest.head != oldest_.head || !oldest.task) {
        oldest_ = oldest;
        oldest_since_ = {};  // first seen now: the clock starts at the next tick that sees it
        return {};
    }
    const auto now = std::chrono::steady_clock::now();
    if (oldest_since_ == std::chrono::steady_clock::time_point{}) {
        oldest_since_ = now;
        return {};
    }
    if (now - oldest_since_ < starvation_bound) return {};
    oldest_ = {};
    return queue_.pop_oldest();  // a thief may have taken it meanwhile: then the next oldest
}

// The LIFO streak is spent: one queued task runs before the LIFO task runs again.
std::coroutine_handle<> worker::next_after_lifo_streak() noexcept {
    lifo_streak_ = 0;
    if (auto task = queue_.pop_newest()) return task;
    if (auto task = rt_.inject().pop()) return task;
    lifo_streak_ = 1;  // nothing waits behind it: the streak starves nobody
    return std::exchange(lifo_, {});
}

// Called with the local queue empty (and no LIFO task).
std::coroutine_handle<> worker::next_from_inject() noexcept {
    if (rt_.inject().empty()) return {};
    const std::size_t share = rt_.inject().size() / rt_.size() + 1;
    queue_is_inject_batch_ = true;
    return rt_.inject().pop_into(queue_, std::min<std::size_t>(share, run_queue::capacity / 2));
}

std::coroutine_handle<> worker::steal() noexcept {
    const unsigned n = rt_.size();
    const unsigned start = random() % n;
    for (unsigned i = 0; i < n; ++i) {
        worker& victim = rt_.at((start + i) % n);
        if (&victim == this) continue;
        // The oldest stolen task runs now; the rest go to our queue (it is empty: we search
        // only when it is), where the newest of them is popped next.
        void* stolen[run_queue::capacity / 2];
        if (const std::uint32_t taken = victim.queue().steal(stolen, run_queue::capacity / 2)) {
            queue_.push_batch(stolen + 1, taken - 1);
            queue_is_inject_batch_ = false;
            return std::coroutine_handle<>::from_address(stolen[0]);
        }
    }
    const std::size_t share = rt_.inject().size() / n + 1;
    queue_is_inject_batch_ = true;  // our queue is empty: we only search when it is
    return rt_.inject().pop_into(queue_, std::min<std::size_t>(share, run_queue::capacity / 2));
}

std::coroutine_handle<> worker::search() noexcept {
    if (!searching_) {
        if (!rt_.idle().try_start_searching()) return {};
        searching_ = true;
    }
    // Two rounds: a victim may publish work while we look at the others.
    for (int round = 0; round < 2; ++round) {
        if (auto task = steal()) {
            searching_ = false;
            rt_.idle().stop_searching();
            return task;
        }
    }
    return {};
}

bool worker::any_work_visible() const noexcept {
    if (!rt_.inject().empty()) return true;
    for (unsigned i = 0; i < rt_.size(); ++i)
        if (!rt_.at(i).queue().empty()) return true;
    return false;
}

bool worker::fire_timers(bool all) noexcept {
    timer_service& timers = rt_.timers();
    const std::uint64_t earliest = timers.earliest_tick();
    if (earliest == timer_shard::never) return false;
    const auto now = timer_service::clock::now();
    if (earliest > timers.now_tick(now)) return false;
    return timers.fire_due(now, index_, all) != 0;
}

void worker::park() noexcept {
    if (fire_timers(true)) return;  // woke tasks: run them first
    maybe_release_free_slabs();     // Go's scavenger: idle memory goes back to the OS
    rt_.idle().enter_parked(*this, searching_);
    searching_ = false;
    rt_.idle().park_barrier();
    timer_service& timers = rt_.timers();
    std::uint64_t until = timers.earliest_tick();
    for (;;) {
        // seq_cst store, then load next_tick (seq_cst in arm): Dekker with timer arming.
        parked_until_.store(until, std::memory_order_seq_cst);
        const std::uint64_t again = timers.earliest_tick();
        if (again >= until) break;
        until = again;
    }
    const bool due = until != timer_shard::never && until <= timers.now_tick(timer_service::clock::now());
    if (due || any_work_visible() || stopping()) {
        parked_until_.store(0, std::memory_order_relaxed);
        rt_.idle().cancel_park(*this);
        searching_ = true;
        return;
    }
    // The earliest timer, or the frame pool's follow-up release if it is sooner.
    const auto deadline = std::min(timers.time_of(until), release_follow_up_due());
    // acquire: pairs with mark_woken's release store.
    while (wake_word_.load(std::memory_order_acquire) == 0) {
        futex_wait(wake_word_, 0, deadline);
        if (deadline != timer_service::clock::time_point::max() && timer_service::clock::now() >= deadline) break;
    }
    parked_until_.store(0, std::memory_order_relaxed);
    if (wake_word_.load(std::memory_order_acquire) == 0) {
        // Timed out: leave the sleepers (or consume a wake-up that raced with the timeout).
        rt_.idle().cancel_park(*this);
    }
    searching_ = !stopping();
}

void worker::wake() noexcept {
    futex_wake_one(wake_word_);
}

std::coroutine_handle<> worker::spin() noexcept {
    if (!searching_ || rt_.size() == 1) return {};  // only searchers spin; alone, nobody feeds us
    const auto until = std::chrono::steady_clock::now() + spin_window;
    do {
        for (int i = 0; i < pauses_per_round; ++i)
            cpu_relax();
        if (auto task = next_local()) {
            searching_ = false;
            rt_.idle().stop_searching();
            return task;
        }
        if (auto task = search()) return task;
        if (stopping()) return {};
    } while (std::chrono::steady_clock::now() < until);
    return {};
}

void worker::run() noexcept {
    set_current_worker(this);
    while (!stopping()) {
        auto task = next_local();
        if (!task) task = search();
        if (!task) task = spin();
        if (task) {
            task.resume();
            continue;
        }
        park();
    }
    if (searching_) {
        searching_ = false;
        rt_.idle().stop_searching();
    }
    set_current_worker(nullptr);
}

void worker::discard_queued() noexcept {
    lifo_ = {};
    while (queue_.pop_oldest()) {
    }
}

}  // namespace weft::detail
