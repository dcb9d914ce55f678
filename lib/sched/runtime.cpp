// Provides run(): starting the pool, scheduling entry points, and shutdown.
//
// Shutdown, when the main task ends (request_stop):
//   1. Every worker's stop flag is set and every sleeper woken; each worker finishes the task it is
//      running (tasks are never preempted) and leaves its loop.
//   2. The caller of run() (worker 0) joins the other workers. From here on one thread runs.
//   3. `shutting_down` is set: schedule() and start_root() stop queueing; awaiters' and
//      handles' destructors stop touching structures that may already be gone.
//   4. Queued handles are dropped and every frame still tagged root is destroyed
//      (frame_pool.cpp); destroying a root destroys the child frames it owns, so every
//      frame is freed and every destructor runs, and nothing is resumed.
//   5. The frame pool returns the pages of its now free slabs to the OS (slab_release.cpp).
//   6. The runtime is torn down; run() can be called again.
#include "sched/runtime.hpp"

#include "mem/frame_pool.hpp"
#include "sched/heavy_barrier.hpp"
#include "sched/maxprocs.hpp"

#include <weft/detail/promise.hpp>
#include <weft/runtime.hpp>

#include <stdexcept>
#include <thread>
#include <utility>

namespace weft::detail {
namespace {

// The running runtime. Set by run_main before workers start, cleared after they are joined;
// read by schedule()/start_root() from any thread (acquire pairs with the release store).
std::atomic<runtime*> g_runtime{nullptr};
// Step 3 of shutdown. Written by run()'s thread while it is the only one running tasks.
std::atomic<bool> g_shutting_down{false};
// Tasks started or finished on threads that are not workers (num_tasks()).
std::atomic<std::int64_t> g_external_live{0};
// One run() at a time.
std::atomic<bool> g_run_active{false};

constinit thread_local worker* t_worker = nullptr;
constinit thread_local wake_batch* t_batch = nullptr;

}  // namespace

worker* current_worker() noexcept {
    return t_worker;
}
void set_current_worker(worker* w) noexcept {
    t_worker = w;
    t_finished_roots = w ? &w->finished_count() : nullptr;
    // Light joins need the heavy barrier for their remote halves (join.cpp); slots past
    // 16 bits fall back to the locked protocol.
    const bool light = w && heavy_barrier_available() && w->index() < 0xffff;
    t_join_slot = light ? static_cast<std::uint16_t>(w->index() + 1) : 0;
    t_spawn_home = t_join_slot;
}

void note_remote_join(std::uint16_t home) noexcept {
    if (runtime* rt = g_runtime.load(std::memory_order_acquire)) rt->at(home - 1u).count_remote_join();
}

runtime::runtime(unsigned workers) : idle_(workers), timers_(workers) {
    workers_.reserve(workers);
    for (unsigned i = 0; i < workers; ++i)
        workers_.push_back(std::make_unique<worker>(*this, i, workers));
}

void runtime::stop() noexcept {
    for (auto& w : workers_)
        w->request_stop();
    idle_.wake_all();
}

void runtime::timer_armed(std::uint64_t tick) noexcept {
    bool later_sleeper = false;
    for (auto& w : workers_) {
        const std::uint64_t until = w->parked_until();
        if (until == 0) continue;   // running: it checks timers as it goes
        if (until <= tick) return;  // it wakes in time and fires this one too
        later_sleeper = true;
    }
    if (later_sleeper) idle_.notify_timer();
}

bool timer_arm(timer_node& node, timer_node::clock::time_point deadline) noexcept {
    runtime* rt = g_runtime.load(std::memory_order_acquire);
    if (!rt || shutting_down()) return false;
    worker* w = t_worker;
    const std::uint64_t tick = rt->timers().arm(w ? w->index() : 0, node, deadline);
    rt->timer_armed(tick);
    return true;
}

bool timer_cancel(timer_node& node) noexcept {
    return timer_service::cancel(node);
}

timer_node::clock::time_point deadline_after(timer_node::clock::duration d) noexcept {
    const auto now = timer_node::clock::now();
    if (d <= timer_node::clock::duration::zero()) return now;
    if (d >= timer_node::clock::time_point::max() - now) return timer_node::clock::time_point::max();
    return now + d;
}

bool shutting_down() noexcept {
    return g_shutting_down.load(std::memory_order_relaxed);
}

void schedule(std::coroutine_handle<> task) noexcept {
    if (worker* w = t_worker) {
        w->schedule_next(task);
        return;
    }
    runtime* rt = g_runtime.load(std::memory_order_acquire);
    if (!rt || shutting_down()) return;  // nothing may run any more; shutdown frees the frame
    rt->inject().push(task);
    rt->idle().notify_one();
}

void schedule_yield(std::coroutine_handle<> task) noexcept {
    runtime* rt = g_runtime.load(std::memory_order_acquire);
    if (!rt || shutting_down()) return;
    rt->inject().push(task);  // behind everything already runnable
    rt->idle().notify_one();
}

void schedule_batch(void* const* tasks, std::size_t count) noexcept {
    runtime* rt = g_runtime.load(std::memory_order_acquire);
    if (!rt || shutting_down() || count == 0) return;
    rt->inject().push_batch(tasks, count);
    rt->idle().notify_one();  // a searcher that finds work wakes the next (chained wake-ups)
}

wake_batch::wake_batch() noexcept : outer_(t_batch) {
    t_batch = this;
}

wake_batch::~wake_batch() {
    schedule_batch(tasks_, count_);
    t_batch = outer_;
}

void wake_batch::add(std::coroutine_handle<> task) noexcept {
    if (count_ == capacity) {
        schedule_batch(tasks_, count_);
        count_ = 0;
    }
    tasks_[count_++] = task.address();
}

wake_batch* wake_batch::current() noexcept {
    return t_batch;
}

namespace {
// start_root on a thread that is not a worker (or during shutdown). Out of line, as a tail
// call, so that start_root's worker path saves no registers.
[[gnu::noinline]] void start_root_off_worker(std::coroutine_handle<> root) {
    if (shutting_down()) {
        root.destroy();  // a destructor started a task during shutdown: it never runs
        return;
    }
    if (!g_runtime.load(std::memory_order_acquire)) {
        root.destroy();
        throw std::logic_error("weft: go/spawn called with no runtime running (call it inside weft::run)");
    }
    g_external_live.fetch_add(1, std::memory_order_relaxed);
    schedule(root);
}
}  // namespace

void start_root(std::coroutine_handle<> root) {
    // On a worker (the common case) the runtime is running and not shutting down: the
    // shutdown starts only after every worker has left its loop and cleared t_worker.
    worker* w = t_worker;
    if (!w) [[unlikely]]
        return start_root_off_worker(root);
    w->count_started();
    w->schedule_spawned(root);
}

constinit thread_local std::atomic<std::uint64_t>* t_finished_roots = nullptr;

void note_root_finished_off_worker() noexcept {
    g_external_live.fetch_sub(1, std::memory_order_relaxed);
}

// One call from on_final for a detached root's whole ending: with two calls there, clang
// stopped inlining on_final into coroutines' resume functions (+4.5% instructions in
// fib_fork).
void finish_detached(std::coroutine_handle<> frame, wait_group* group) noexcept {
    note_root_finished();
    if (!t_escaped && !group) [[likely]] {
        destroy_root(frame);  // the common `go` task: nothing to report or release
        return;
    }
    finish_root(frame, std::exchange(t_escaped, nullptr), group);
}

void request_stop() noexcept {
    if (runtime* rt = g_runtime.load(std::memory_order_acquire)) rt->stop();
}

void run_main(const options& opts, std::coroutine_handle<> main_root) {
    if (t_worker) {
        main_root.destroy();
        throw std::logic_error("weft: run() called from inside a task");
    }
    if (g_run_active.exchange(true, std::memory_order_acquire)) {
        main_root.destroy();
        throw std::logic_error("weft: run() is already running on another thread");
    }
    const unsigned n = opts.workers ? opts.workers : default_maxprocs();
    runtime rt(n);
    g_external_live.store(0, std::memory_order_relaxed);
    g_runtime.store(&rt, std::memory_order_release);
    start_root(main_root);

    std::vector<std::thread> threads;
    threads.reserve(n - 1);
    for (unsigned i = 1; i < n; ++i)
        threads.emplace_back([&rt, i] { rt.at(i).run(); });
    rt.at(0).run();
    for (auto& t : threads)
        t.join();

    g_shutting_down.store(true, std::memory_order_relaxed);
    rt.inject().clear();
    for (unsigned i = 0; i < n; ++i)
        rt.at(i).discard_queued();
    frame_destroy_all_roots();
    rt.timers().fire_all_for_shutdown();  // heap timers still armed release their state
    frame_pool_release(true);             // every frame is free now: their pages go back to the OS
    g_shutting_down.store(false, std::memory_order_relaxed);
    g_runtime.store(nullptr, std::memory_order_release);
    g_external_live.store(0, std::memory_order_relaxed);  // no task outlives run()
    g_run_active.store(false, std::memory_order_release);
}

// Every worker's finishes first, then the starts. A task started on one worker and finished on
// another is then never counted as finished but not started (which would under-count the
// tasks alive through the call): seeing its finish (acquire) means seeing its start. Tasks
// that start and finish while we read may be counted as started only: a brief over-count.
std::int64_t live_tasks() noexcept {
    runtime* rt = g_runtime.load(std::memory_order_acquire);
    if (!rt) return 0;
    std::uint64_t finished = 0;
    for (unsigned i = 0; i < rt->size(); ++i)
        finished += rt->at(i).finished();
    auto total = g_external_live.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < rt->size(); ++i)
        total += static_cast<std::int64_t>(rt->at(i).started());
    total -= static_cast<std::int64_t>(finished);
    return total < 0 ? 0 : total;
}

unsigned running_workers() noexcept {
    runtime* rt = g_runtime.load(std::memory_order_acquire);
    return rt ? rt->size() : 0;
}

}  // namespace weft::detail

namespace weft {

unsigned maxprocs() noexcept {
    const unsigned running = detail::running_workers();
    return running ? running : detail::default_maxprocs();
}

std::size_t num_tasks() noexcept {
    return static_cast<std::size_t>(detail::live_tasks());
}

std::size_t free_os_memory() noexcept {
    return detail::frame_pool_release(true);
}

}  // namespace weft
