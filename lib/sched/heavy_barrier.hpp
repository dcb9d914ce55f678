// Provides the heavy half of an asymmetric Dekker pair: membarrier(2) with
// MEMBARRIER_CMD_PRIVATE_EXPEDITED runs a full memory barrier on every running thread of
// the process, so the frequent side of the pair needs only a compiler barrier (folly's
// asymmetricHeavyBarrier). Used by parking (idle.cpp) and by light steals (run_queue.cpp).
#pragma once

namespace weft::detail {

// True if membarrier is usable: registered once per process on first call. False under
// ThreadSanitizer (it does not model membarrier: callers keep fences it understands), and
// where the kernel or a seccomp filter refuses it.
bool heavy_barrier_available() noexcept;

// The heavy half: when it returns, every store another thread made before a point P of its
// execution is visible here, and every load it makes after P sees this thread's stores from
// before the call. Only call it when heavy_barrier_available(); a failure after a
// successful registration cannot happen, and terminates with a message if it does.
void heavy_barrier() noexcept;

}  // namespace weft::detail
