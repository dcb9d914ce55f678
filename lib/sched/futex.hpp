// Provides futex_wait / futex_wake on a 32-bit atomic word (Linux), with an optional
// absolute CLOCK_MONOTONIC deadline (std::atomic::wait has none).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace weft::detail {

// Sleeps while `word` holds `expected`, until woken, `deadline` passes, or spuriously.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::steady_clock::time_point deadline) noexcept;
void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept;

}  // namespace weft::detail
