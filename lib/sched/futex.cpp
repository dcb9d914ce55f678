// Provides the futex wrappers (see futex.hpp).
#include "sched/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace weft::detail {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::steady_clock::time_point deadline) noexcept {
    auto* address = reinterpret_cast<std::uint32_t*>(&word);
    if (deadline == std::chrono::steady_clock::time_point::max()) {
        ::syscall(SYS_futex, address, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
        return;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    timespec absolute{};
    absolute.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    absolute.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time (steady_clock's clock).
    ::syscall(SYS_futex, address, FUTEX_WAIT_BITSET_PRIVATE, expected, &absolute, nullptr, FUTEX_BITSET_MATCH_ANY);
}

void futex_wake_one(std::atomic<std::uint32_t>& word) noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace weft::detail
