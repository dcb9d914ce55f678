// Provides the contended path of spin_lock: spin with pause, then yield the thread.
#include <weft/detail/spin_lock.hpp>

#include <thread>

namespace weft::detail {

void spin_lock_contended(std::atomic<bool>& locked) noexcept {
    for (unsigned spins = 0;; ++spins) {
        if (!locked.load(std::memory_order_relaxed) && !locked.exchange(true, std::memory_order_acquire)) return;
        if (spins < 100) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            std::this_thread::yield();
        }
    }
}

}  // namespace weft::detail
