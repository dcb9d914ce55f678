// Provides the global injection queue (see inject_queue.hpp).
#include "sched/inject_queue.hpp"

#include <algorithm>
#include <mutex>  // std::lock_guard

namespace weft::detail {

void inject_queue::grow() {
    std::vector<void*> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
        bigger[i] = ring_[slot(i)];
    ring_.swap(bigger);
    head_ = 0;
}

void inject_queue::push(std::coroutine_handle<> task) {
    void* address = task.address();
    push_batch(&address, 1);
}

void inject_queue::push_batch(void* const* tasks, std::size_t count) {
    std::lock_guard guard(lock_);
    while (count_ + count > ring_.size())
        grow();
    for (std::size_t i = 0; i < count; ++i)
        ring_[slot(count_ + i)] = tasks[i];
    count_ += count;
    size_.store(count_, std::memory_order_relaxed);
}

std::coroutine_handle<> inject_queue::pop() noexcept {
    if (empty()) return {};
    std::lock_guard guard(lock_);
    if (count_ == 0) return {};
    void* task = ring_[head_];
    head_ = slot(1);
    --count_;
    size_.store(count_, std::memory_order_relaxed);
    return std::coroutine_handle<>::from_address(task);
}

std::coroutine_handle<> inject_queue::pop_into(run_queue& dest, std::size_t max) noexcept {
    if (empty()) return {};
    std::lock_guard guard(lock_);
    const std::size_t n = std::min(count_, max);
    if (n == 0) return {};
    void* first = ring_[head_];
    // The rest go to dest so that its newest-first pops take them oldest first: the batch
    // runs in FIFO order. Besides fairness, this keeps frames freed in the order they were
    // allocated, so the frame pool (a stack) hands them out again in address order; the
    // order "first, then the rest newest first" scrambled it a little more every round
    // (bench/sched_spawn_join.cpp, 1 worker). The ring may wrap: at most two runs, the later
    // one pushed first. dest has room for `max - 1` entries by the caller's contract.
    const std::size_t rest_start = slot(1);
    const std::size_t rest = n - 1;
    const std::size_t before_wrap = std::min(rest, ring_.size() - rest_start);
    dest.push_batch_reversed(ring_.data(), static_cast<std::uint32_t>(rest - before_wrap));
    dest.push_batch_reversed(ring_.data() + rest_start, static_cast<std::uint32_t>(before_wrap));
    // dest prefetches run_queue::prefetch_distance pops ahead; the frames it will run before
    // that prefetch reaches them are fetched here (tasks that sat in this queue are usually
    // cold).
    for (std::size_t i = 1; i <= std::min(rest, std::size_t{run_queue::prefetch_distance}); ++i)
        __builtin_prefetch(ring_[slot(i)]);
    head_ = slot(n);
    count_ -= n;
    size_.store(count_, std::memory_order_relaxed);
    return std::coroutine_handle<>::from_address(first);
}

void inject_queue::clear() noexcept {
    std::lock_guard guard(lock_);
    head_ = 0;
    count_ = 0;
    size_.store(0, std::memory_order_relaxed);
}

}  // namespace weft::detail
