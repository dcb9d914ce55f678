// Provides the heavy halves of the light join protocol between a joinable task (spawn) and
// its join_handle; the light halves are inline in promise.hpp (on_final, try_register_joiner,
// drop_handle).
//
// Why. Every fork-join node does two joins, and each join's race between the task finishing
// and its joiner registering was settled by a locked read-modify-write of the task's `link_`
// word (the joiner's CAS, or the finisher's exchange). On one worker, replacing both with
// plain stores (unsafe, as an upper bound) took bench/sched_fib_fork.cpp from 61.4 to 52.1 ms,
// and on two from 31.5 to 26.9 ms (Intel Xeon VM, medians). Yet almost every such race is
// between two parties on one thread: the task runs and finishes on the worker that spawned
// it (its home), and its parent awaits it there, unless a steal or a wake-up by another
// worker moved one of them.
//
// The protocol. A task records its spawner's worker slot as `home_` (0 when light joins are
// off: no membarrier, as under ThreadSanitizer, or spawned off the workers; then every party
// uses the locked operations, as before). The parties:
//   finisher on the home worker (F), with no joiner registered yet and no exception:
//     F1 home_state_ = deciding; F2 compiler barrier; read remote_;
//     F3 remote_ == 0: home_state_ = finished (release), and leave link_ alone. Else the
//        exchange of link_, as a finisher elsewhere would.
//   joiner on the home worker (H), after await_ready found the task not finished:
//     H1 home_state_ = deciding; H2 compiler barrier; read remote_;
//     H3 remote_ == 0: link_ = joiner (release). Else the CAS of link_ from pending.
//   dropper on the home worker: the CAS of link_ from pending to dropped, as before.
//   finisher elsewhere (remote_finish), with no joiner registered yet:
//     R1 remote_ = 1; R2 heavy barrier; read home_state_;
//     R3 deciding (H is between H1 and H3): wait until link_ is no longer pending;
//     R4 then as before: exchange link_ if pending, else store the outcome over the joiner.
//   joiner or dropper elsewhere (remote_register):
//     J1 remote_ = 1; J2 heavy barrier; read home_state_;
//     J3 finished: the task is done (nothing registered). deciding (F is between F1 and F3):
//        wait until home_state_ is finished or link_ holds an outcome. idle: the CAS of link_
//        from pending to the joiner (or dropped); if it fails, the task is done.
//
// Why no wake-up is lost or doubled. A home party and a remote one form an asymmetric
// Dekker pair (as the run queue's light pops and steals): the home party stores home_state_
// then loads remote_, the remote one stores remote_ then, after a heavy barrier (membarrier:
// a full barrier on every running thread), loads home_state_. So either the home party sees
// remote_ = 1 and falls back to the locked operation, which then races only with other
// locked operations (the old protocol), or the remote party sees home_state_ from F1/H1 and
// waits for that party's light action to end, then acts on its result: F's "finished" (the
// remote joiner does not suspend; the remote dropper owns the frame) or H's joiner in link_
// (the remote finisher stores its outcome and resumes it). Two home parties run on one
// thread, one after the other; two remote ones both use locked operations.
//
// Lifetimes. Each light action's last access to the frame is its publication (F3's
// finished, H3's joiner): from then the handle may destroy the task's frame, or the finisher
// resume the joiner. A remote party that waits reads only the frame it waits on, which
// cannot be destroyed before that wait ends: the handle's owner is one of the two parties.
//
// Cost. The home parties replace a locked instruction with two byte stores and a load in a
// line they already hold. A remote party costs a membarrier (about 2-5 us on the 2-core VMs,
// ~150 locked instructions): in fork-join code only tasks finished by a thief before their
// joiner awaits them, and joins made after the joiner moved to another worker while its
// task was still running. Where remote halves are common (tasks that move between workers
// through channels or yields before they are joined), light joins would lose: each remote
// half counts against its task's home worker (note_remote_join), and a worker that sees
// them spawns its next tasks with home 0, the locked protocol, for a quiet period that
// doubles when they come back soon after it ends (worker::adapt_light_joins, ski rental as
// in the run queue's adapt_to_thieves). A task keeps the protocol it was spawned with.
#include "sched/heavy_barrier.hpp"
#include "sched/runtime.hpp"

#include <weft/detail/promise.hpp>
#include <weft/detail/spin_lock.hpp>

#include <thread>

namespace weft::detail {

constinit thread_local std::uint16_t t_join_slot = 0;
constinit thread_local std::uint16_t t_spawn_home = 0;

namespace {
// Waits out a home party's light action (a few instructions, unless its thread was preempted).
template <class Done>
void wait_for_home_party(Done done) noexcept {
    for (unsigned spins = 0; !done(); ++spins) {
        if (spins < 64) {
            cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
}
}  // namespace

std::uintptr_t remote_finish(promise_base& promise, std::uintptr_t outcome) noexcept {
    note_remote_join(promise.home_);
    // R1, R2: relaxed store, then the heavy barrier orders it before the load below and
    // before the home party's load of remote_ after its compiler barrier.
    promise.remote_.store(1, std::memory_order_relaxed);
    heavy_barrier();
    // acquire: pairs with H3's release (the joiner's frame is visible).
    if (promise.home_state_.load(std::memory_order_acquire) == promise_base::home_deciding)
        wait_for_home_party([&] { return promise.link_.load(std::memory_order_acquire) != join_pending; });  // R3
    // R4. acquire (load and exchange): the joiner's frame is valid to resume; release
    // (exchange): publishes the result to a handle that collects it later.
    auto previous = promise.link_.load(std::memory_order_acquire);
    if (previous == join_pending) return promise.link_.exchange(outcome, std::memory_order_acq_rel);
    promise.link_.store(outcome, std::memory_order_relaxed);  // a joiner or join_dropped: final, ours to overwrite
    return previous;
}

bool remote_register(promise_base& promise, std::uintptr_t value) noexcept {
    note_remote_join(promise.home_);
    promise.remote_.store(1, std::memory_order_relaxed);  // J1, ordered by J2's barrier
    heavy_barrier();
    // acquire (both loads): pairs with F3's release and with the finisher's exchange, so
    // the result is visible when the task turns out done.
    const auto finished = [&] {
        return promise.home_state_.load(std::memory_order_acquire) == promise_base::home_finished ||
               (promise.link_.load(std::memory_order_acquire) & join_completed) != 0;
    };
    if (promise.home_state_.load(std::memory_order_acquire) == promise_base::home_deciding) {
        wait_for_home_party(finished);  // F decides: finished, or the exchange (it saw remote_)
        return false;
    }
    if (finished()) return false;
    auto expected = join_pending;
    // acq_rel: publishes the joiner's frame (or the drop) to the finisher; acquire on failure
    // pairs with its exchange.
    return promise.link_.compare_exchange_strong(expected, value, std::memory_order_acq_rel, std::memory_order_acquire);
}

}  // namespace weft::detail
