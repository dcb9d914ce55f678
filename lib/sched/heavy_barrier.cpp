// Provides heavy_barrier: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), registered once.
#include "sched/heavy_barrier.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace weft::detail {
namespace {

bool register_membarrier() noexcept {
#if defined(__SANITIZE_THREAD__)
    return false;  // TSan does not model membarrier: keep the fences it understands
#else
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
    return false;
#endif
#endif
    const long supported = ::syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (supported < 0 || !(supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return false;
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

}  // namespace

bool heavy_barrier_available() noexcept {
    static const bool available = register_membarrier();  // a magic static: registered once
    return available;
}

void heavy_barrier() noexcept {
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
    // The light sides rely on this barrier for correctness: going on would lose tasks.
    std::fputs("weft: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration\n", stderr);
    std::abort();
}

}  // namespace weft::detail
