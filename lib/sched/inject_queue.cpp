// Provides the global injection queue (see inject_queue.hpp).
#include "sched/inject_queue.hpp"

#include <algorithm>

namespace weft::detail {

void inject_queue::grow() {
    std::vector<void*> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
        bigger[i] = ring_[(head_ + i) % ring_.size()];
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
        ring_[(head_ + count_ + i) % ring_.size()] = tasks[i];
    count_ += count;
    size_.store(count_, std::memory_order_relaxed);
}

std::coroutine_handle<> inject_queue::pop() noexcept {
    if (empty()) return {};
    std::lock_guard guard(lock_);
    if (count_ == 0) return {};
    void* task = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
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
    for (std::size_t i = 1; i < n; ++i) {
        // dest has room for `max - 1` entries by the caller's contract.
        (void)dest.push(std::coroutine_handle<>::from_address(ring_[(head_ + i) % ring_.size()]));
    }
    head_ = (head_ + n) % ring_.size();
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
