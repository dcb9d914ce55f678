// Provides runtime: the pool of workers, the injection queue and the idle set of one run().
//
// Lock order: docs/design/scheduler.md holds the whole runtime's. In short: channels,
// wait_groups and contexts wake tasks after releasing their own locks; a heap timer's lock
// is held while it delivers on its channel (timer -> channel) and while it re-arms
// (timer -> shard); inject_queue::lock_ and idle_set::lock_ are leaves.
#pragma once

#include "sched/idle.hpp"
#include "sched/inject_queue.hpp"
#include "sched/worker.hpp"
#include "time/timer_service.hpp"

#include <atomic>
#include <memory>
#include <vector>

namespace weft::detail {

class runtime {
public:
    explicit runtime(unsigned workers);

    unsigned size() const noexcept { return static_cast<unsigned>(workers_.size()); }
    worker& at(unsigned i) noexcept { return *workers_[i]; }

    inject_queue& inject() noexcept { return inject_; }
    idle_set& idle() noexcept { return idle_; }
    timer_service& timers() noexcept { return timers_; }

    // A timer was armed for `tick`: wake a parked worker if none will wake by then.
    void timer_armed(std::uint64_t tick) noexcept;

    // Asks every worker to leave its loop (each polls its own flag between tasks) and wakes
    // the parked ones.
    void stop() noexcept;

private:
    std::vector<std::unique_ptr<worker>> workers_;
    inject_queue inject_;
    idle_set idle_;
    timer_service timers_;
};

// A remote half of a light join ran for a task whose home is worker slot `home` (join.cpp).
void note_remote_join(std::uint16_t home) noexcept;

// The worker running on this thread, or null.
worker* current_worker() noexcept;
void set_current_worker(worker* w) noexcept;

}  // namespace weft::detail
