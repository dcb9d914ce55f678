// Provides the promise machinery shared by every weft coroutine: pooled frames, the three
// ways a task can end (awaited child, detached root, joinable root) and symmetric transfer.
//
// A frame is in exactly one mode for its whole life:
//   child     awaited by another coroutine through `task<T>`; `link_` holds the awaiter's
//             address, written before the child first runs. Ends by transferring to it.
//   detached  started by `go`/`wait_group::go`; `link_` holds the `wait_group*` to release
//             (or 0). Ends by destroying itself (see lib/sched/task_lifecycle.cpp).
//   joinable  started by `spawn`; `link_` is a small state machine shared with the
//             `join_handle` (join_pending / join_completed / join_dropped / joiner address /
//             a failure box tagged join_failed_tag).
//
// An exception that escapes a coroutine body is not kept in the promise (8 bytes in every
// frame, used by almost none). unhandled_exception boxes it on the heap and leaves the box
// in the thread-local `t_escaped`, and whatever runs right after that coroutine's final
// suspend, on the same thread and before anything else, takes it: the awaiter's
// await_resume (child: symmetric transfer resumes the awaiter at once), on_final itself
// (detached: a panic; joinable: the box goes into `link_` for the handle).
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>

#include <weft/detail/frame_cache.hpp>

namespace weft {
class wait_group;
}

namespace weft::detail {

// Frame allocation: per-thread size-class free lists (frame_cache.hpp, frame_pool.cpp).
inline void* frame_alloc(std::size_t size);
inline void frame_free(void* frame, std::size_t size) noexcept;

enum class task_mode : std::uint8_t { child = 0, detached = 1, joinable = 2, child_inline = 3 };

// GCC without optimization, or with ASan or TSan at any level, does not turn symmetric
// transfer into a tail call, so a loop of synchronously completing awaits would grow the
// stack. There the awaiter resumes the child inline and learns from `link_` whether it
// finished synchronously (cppcoro's pre-C++20 protocol); everywhere else it transfers
// symmetrically. Both kinds of awaiter work with every frame: the mode byte tells the frame
// which protocol its awaiter uses.
#if defined(__GNUC__) && !defined(__clang__) && \
    (!defined(__OPTIMIZE__) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define WEFT_INLINE_RESUME 1
#else
#define WEFT_INLINE_RESUME 0
#endif

// States of `link_` in joinable mode; any other value is the joiner's frame address.
inline constexpr std::uintptr_t join_pending = 0;
inline constexpr std::uintptr_t join_completed = 1;
inline constexpr std::uintptr_t join_dropped = 2;
// Low bits of a completed joinable task's `link_` when an exception escaped it: the rest is
// its escaped_exception box (heap blocks are 16-aligned; frames and wait_groups 8-aligned).
// Bit 0 is set in both completed states and in no other (a joiner's frame address is
// 8-aligned); bit 1 then tells a failure from a success.
inline constexpr std::uintptr_t join_failed_tag = 3;

class promise_base;

// An exception that escaped a coroutine body, boxed (see the top of this file).
struct escaped_exception {
    std::exception_ptr error;
    const promise_base* owner;  // the promise whose body it escaped
};
// The box left by the last unhandled_exception on this thread, until taken. Constant-
// initialized and trivial: reading it is one thread-local load.
extern constinit thread_local escaped_exception* t_escaped;
// unhandled_exception's body: boxes std::current_exception() into t_escaped.
void stash_escaped(const promise_base* owner) noexcept;
// Takes t_escaped (it must belong to `owner`) and rethrows its exception.
[[noreturn]] void rethrow_escaped(const promise_base* owner);
// Rethrows and frees a joinable task's failure box (promise_base::take_join_failure).
[[noreturn]] void rethrow_join_failure(promise_base& promise);
void delete_escaped(escaped_exception* box) noexcept;

// Ends a detached root (or a joinable one whose handle was dropped): reports an escaped
// exception (`escaped`, owned, or null) as a panic, destroys the frame, then releases the
// wait_group.
void finish_root(std::coroutine_handle<> frame, escaped_exception* escaped, wait_group* group) noexcept;
// Destroys a root frame (its block then carries the frame pool's free mark).
inline void destroy_root(std::coroutine_handle<> frame) noexcept {
    frame.destroy();
}
// The running worker's count of roots finished on it (num_tasks()), or null on a thread
// that is not a worker. Set by the worker loop; read here so that counting a finish is
// inline on every task's final suspend (a call there was ~5% of bench/sched_fib_fork.cpp's
// instructions on one worker, callgrind).
extern constinit thread_local std::atomic<std::uint64_t>* t_finished_roots;
void note_root_finished_off_worker() noexcept;
// Called when a root (detached or joinable) reaches its final suspend point.
inline void note_root_finished() noexcept {
    if (std::atomic<std::uint64_t>* count = t_finished_roots) [[likely]] {
        // Only this worker writes it: a plain increment. release: a reader that sees this
        // finish also sees the task's start (which happened before it ran here), wherever
        // the start was counted (live_tasks in lib/sched/runtime.cpp).
        count->store(count->load(std::memory_order_relaxed) + 1, std::memory_order_release);
        return;
    }
    note_root_finished_off_worker();
}
// A detached root's whole ending: note_root_finished, then finish_root with the exception
// that escaped it, if any (one call from on_final, which stays small enough to inline into
// every coroutine's resume).
void finish_detached(std::coroutine_handle<> frame, wait_group* group) noexcept;
// A joinable root that failed: takes t_escaped and returns it tagged, for `link_`.
std::uintptr_t take_escaped_as_join_outcome() noexcept;
// A joinable root whose handle was dropped before it finished: finish_root with its failure.
void finish_dropped_join(std::coroutine_handle<> frame, promise_base& promise) noexcept;

// Light joins (lib/sched/join.cpp has the protocol and why it cannot lose a wake-up): the
// running worker's slot (its index + 1) when light joins are on (membarrier available),
// else 0; 0 on a thread that is not a worker. A joinable task records its spawner's slot as
// its home; the finish and the join that both happen on the home worker need no atomic
// read-modify-write, and the rare party elsewhere pays a heavy barrier instead.
extern constinit thread_local std::uint16_t t_join_slot;
// The home a task spawned on this thread now gets: t_join_slot, or 0 while the worker has
// turned light joins off because remote halves came too often (worker::adapt_light_joins).
extern constinit thread_local std::uint16_t t_spawn_home;
// The heavy halves, for a finisher and for a joiner or dropper that are not on the home
// worker. remote_finish returns the link word it replaced (as on_final's exchange would);
// remote_register returns false if the task has completed (nothing was registered).
std::uintptr_t remote_finish(promise_base& promise, std::uintptr_t outcome) noexcept;
bool remote_register(promise_base& promise, std::uintptr_t value) noexcept;

class promise_base {
public:
    static void* operator new(std::size_t size) { return frame_alloc(size); }
    static void operator delete(void* frame, std::size_t size) noexcept { frame_free(frame, size); }

    // Trivially destructible: a failure box still in `link_` (a joinable task that threw and
    // was never collected) can only meet run()'s shutdown, whose walk frees it
    // (frame_destroy_all_roots); every other end of a joinable task takes the box first.

    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        [[gnu::always_inline]] std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            return static_cast<promise_base&>(self.promise()).on_final(self);
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    // Boxes the exception into t_escaped (out of memory for the box terminates).
    void unhandled_exception() noexcept { stash_escaped(this); }

    // Child mode, in the awaiter's await_resume right after this child's final suspend:
    // rethrows what escaped the child.
    void rethrow_if_failed() {
        if (t_escaped) [[unlikely]]
            rethrow_escaped(this);
    }
    // Joinable mode, once completed: rethrows what escaped the task.
    void rethrow_if_join_failed() {
        if (link_.load(std::memory_order_relaxed) & 2) [[unlikely]]  // join_failed_tag, not join_completed
            rethrow_join_failure(*this);
    }

    // Child mode: the coroutine to resume when this one finishes.
    void set_continuation(std::coroutine_handle<> awaiter) noexcept {
        link_.store(reinterpret_cast<std::uintptr_t>(awaiter.address()), std::memory_order_relaxed);
    }

    // Child mode with an inline-resuming awaiter (WEFT_INLINE_RESUME). Runs the child until
    // it suspends or ends; true if the caller must suspend (the child will resume it).
    bool resume_inline(std::coroutine_handle<> self, std::coroutine_handle<> caller) noexcept {
        mode_ = task_mode::child_inline;
        // Low bit set: the awaiter is still inside await_suspend.
        link_.store(reinterpret_cast<std::uintptr_t>(caller.address()) | 1, std::memory_order_relaxed);
        self.resume();
        // acq_rel: pairs with the finishing child's exchange (its result is visible, or it
        // sees our continuation without the bit).
        const auto previous =
            link_.exchange(reinterpret_cast<std::uintptr_t>(caller.address()), std::memory_order_acq_rel);
        return previous != 0;  // 0: the child already finished and left the caller to us
    }

    // Root modes, set once on a new frame before it is first scheduled. `link_` is still 0
    // from construction: no group, or join_pending (the ramp that constructed it is a call
    // apart, so the compiler would store the 0 again).
    void make_detached(wait_group* group) noexcept {
        mode_ = task_mode::detached;
        link_.store(reinterpret_cast<std::uintptr_t>(group), std::memory_order_relaxed);
    }
    void make_detached() noexcept { mode_ = task_mode::detached; }
    void make_joinable() noexcept {
        static_assert(join_pending == 0);
        mode_ = task_mode::joinable;
        home_ = t_spawn_home;
    }

    // Joinable mode, called by join_handle.
    // Registers `joiner`; false if the task already completed (the joiner must not suspend).
    bool try_register_joiner(std::coroutine_handle<> joiner) noexcept {
        const auto self = reinterpret_cast<std::uintptr_t>(joiner.address());
        if (home_ != 0) {
            if (home_ != t_join_slot) [[unlikely]]
                return remote_register(*this, self);
            // On the home worker: the light half (join.cpp, H1-H3). Only this thread can be
            // the finisher's light half, so it is not running now (await_ready saw it not done).
            home_state_.store(home_deciding, std::memory_order_relaxed);
            std::atomic_signal_fence(std::memory_order_seq_cst);
            if (remote_.load(std::memory_order_relaxed) == 0) [[likely]] {
                // release: publishes the joiner's frame to the finisher. The last access:
                // from here the joiner may be resumed.
                link_.store(self, std::memory_order_release);
                return true;
            }
        }
        auto expected = join_pending;
        // release: publishes the joiner's frame to the finishing task; acquire on failure
        // pairs with the finisher's exchange so the result is visible.
        return link_.compare_exchange_strong(expected, self, std::memory_order_acq_rel, std::memory_order_acquire);
    }
    bool is_completed() const noexcept {
        // acquire (both): pairs with the finisher's release of home_state_ or its exchange;
        // makes the result visible.
        return home_state_.load(std::memory_order_acquire) == home_finished ||
               (link_.load(std::memory_order_acquire) & join_completed) != 0;  // or a failure box
    }
    // The handle lets go of the task. True if the task already completed (the caller then owns
    // and destroys the frame); false if the task will destroy itself when it ends.
    bool drop_handle() noexcept {
        if (home_state_.load(std::memory_order_acquire) == home_finished) return true;  // acquire: as is_completed
        if (home_ != 0 && home_ != t_join_slot) return !remote_register(*this, join_dropped);
        auto expected = join_pending;
        // acq_rel: on success, publishes nothing but orders against the finisher; on failure
        // (completed) acquires the finished frame's state before the caller destroys it.
        return !link_.compare_exchange_strong(expected, join_dropped, std::memory_order_acq_rel,
                                              std::memory_order_acquire);
    }

    // Joinable mode, completed, collected by nobody (the handle was dropped, or run() ends):
    // takes the failure box, or null if the task succeeded.
    escaped_exception* take_join_failure() noexcept {
        const auto link = link_.load(std::memory_order_relaxed);
        if ((link & join_failed_tag) != join_failed_tag) return nullptr;
        link_.store(join_completed, std::memory_order_relaxed);
        return reinterpret_cast<escaped_exception*>(link & ~join_failed_tag);
    }
    wait_group* group() const noexcept { return reinterpret_cast<wait_group*>(link_.load(std::memory_order_relaxed)); }

private:
    // Forced inline: it is a few instructions per mode, and out of line it costs every task
    // a call (clang stops inlining it by itself once it grows past its threshold).
    [[gnu::always_inline]] std::coroutine_handle<> on_final(std::coroutine_handle<> self) noexcept {
        // Tests rather than a switch, which clang made a jump table (bounds check, table
        // load, indirect jump): child mode, the most common, costs one compare here; the
        // others cost what the table did (fib_fork's joinable tasks: the same instructions).
        const task_mode mode = mode_;
        if (mode == task_mode::child) [[likely]]
            return std::coroutine_handle<>::from_address(
                reinterpret_cast<void*>(link_.load(std::memory_order_relaxed)));
        if (mode == task_mode::detached) {
            finish_detached(self, group());
            return std::noop_coroutine();
        }
        if (mode == task_mode::child_inline) {
            const auto previous = link_.exchange(0, std::memory_order_acq_rel);
            if (previous & 1) return std::noop_coroutine();  // the awaiter continues itself
            return std::coroutine_handle<>::from_address(reinterpret_cast<void*>(previous));
        }
        // joinable
        note_root_finished();
        std::uintptr_t outcome = join_completed;
        if (t_escaped) [[unlikely]]
            outcome = take_escaped_as_join_outcome();
        // A joiner's address or join_dropped is final: once there, only this finisher writes
        // `link_` again, so a plain load decides and a plain store suffices (the joiner is
        // resumed on this thread, the dropped frame destroyed here). Only join_pending races
        // a registration or a drop, and needs the exchange. In fib_fork every left child
        // finds its joiner waiting: this skips half of the RMWs of the join protocol
        // (bench/sched_fib_fork.cpp, 2 workers, 60 -> 49 ms median in session 10).
        // acquire (load and exchange): pairs with the joiner's registration CAS, so its
        // frame is valid to resume; release (exchange): publishes the result or the failure
        // box to a handle that collects it later.
        auto previous = link_.load(std::memory_order_acquire);
        if (previous == join_pending) {
            if (home_ != 0 && home_ != t_join_slot) [[unlikely]] {
                previous = remote_finish(*this, outcome);
            } else {
                if (home_ != 0 && outcome == join_completed) [[likely]] {
                    // On the home worker: the light half (join.cpp, F1-F3). No joiner yet, and
                    // none can register on this thread meanwhile.
                    home_state_.store(home_deciding, std::memory_order_relaxed);
                    std::atomic_signal_fence(std::memory_order_seq_cst);
                    if (remote_.load(std::memory_order_relaxed) == 0) [[likely]] {
                        // release: publishes the result. The last access to the frame: the
                        // handle may destroy it from here on.
                        home_state_.store(home_finished, std::memory_order_release);
                        return std::noop_coroutine();
                    }
                }
                previous = link_.exchange(outcome, std::memory_order_acq_rel);
            }
        } else {
            link_.store(outcome, std::memory_order_relaxed);
        }
        if (previous == join_pending) return std::noop_coroutine();  // the handle collects it
        if (previous == join_dropped) {
            finish_dropped_join(self, *this);
            return std::noop_coroutine();
        }
        return std::coroutine_handle<>::from_address(reinterpret_cast<void*>(previous));
    }

    friend struct frame_layout;

    friend std::uintptr_t remote_finish(promise_base&, std::uintptr_t) noexcept;
    friend bool remote_register(promise_base&, std::uintptr_t) noexcept;

    // Values of home_state_.
    static constexpr std::uint8_t home_idle = 0;
    static constexpr std::uint8_t home_deciding = 1;  // a party on the home worker between H1/F1 and its end
    static constexpr std::uint8_t home_finished = 2;  // finished on the home worker without touching link_

    // Written by the awaiter / starter before the frame runs; by the join protocol above.
    std::atomic<std::uintptr_t> link_{0};
    // Read by run()'s shutdown walk (frame_pool.cpp) to find root frames: it must stay at
    // a fixed offset in every frame (frame_layout).
    task_mode mode_ = task_mode::child;
    // Joinable mode, light joins (join.cpp); in the padding after mode_, so no frame grows.
    // Written by the parties on the home worker, read by the others after a heavy barrier.
    std::atomic<std::uint8_t> home_state_{home_idle};
    // Set to 1 by a party not on the home worker before its heavy barrier; read by the
    // parties on the home worker after their compiler barrier.
    std::atomic<std::uint8_t> remote_{0};
    // The spawner's t_join_slot (0: light joins off for this task). Written before it runs.
    std::uint16_t home_ = 0;
};
static_assert(sizeof(promise_base) == 16, "the light-join fields fit in mode_'s padding");

// Where a frame's mode byte lives. GCC and Clang lay a coroutine frame out as
// {resume fn, destroy fn, promise, ...}; with the promise aligned to at most 16 bytes
// (task<T> checks it) the promise starts 16 bytes in, and promise_base is its first base.
struct frame_layout {
    static constexpr std::size_t promise_offset = 16;
    static promise_base& promise_of(void* frame) noexcept {
        return *reinterpret_cast<promise_base*>(static_cast<unsigned char*>(frame) + promise_offset);
    }
    static std::size_t mode_offset() noexcept { return promise_offset + offsetof(promise_base, mode_); }
    // Frame pool marker for a freed block: not a task_mode value.
    static constexpr std::uint8_t free_mark = 0xEE;
};

inline void* frame_alloc(std::size_t size) {
    t_frame_cache.last_request = size;
    if constexpr (!WEFT_DETAIL_ASAN) {
        if (size <= frame_classes::max_small)
            if (void* block = magazine_take(t_frame_cache, size)) return block;
    }
    return frame_alloc_slow(size);
}

inline void frame_free(void* frame, std::size_t size) noexcept {
    if constexpr (!WEFT_DETAIL_ASAN) {
        if (size <= frame_classes::max_small) {
            static_cast<unsigned char*>(frame)[frame_layout::mode_offset()] = frame_layout::free_mark;
            if (magazine_put(t_frame_cache, frame, size)) return;
        }
    }
    frame_free_slow(frame, size);
}

}  // namespace weft::detail
