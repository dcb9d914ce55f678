// Provides spin_lock: a test-and-test-and-set lock for short critical sections (channel and
// wait_group state: a few dozen instructions; the injection queue: a copy of at most 128
// pointers). Spins with `pause`, then yields the thread.
#pragma once

#include <atomic>

namespace weft::detail {

// One spin-wait step: tells the CPU we are busy-waiting (x86 `pause`), so the sibling
// hyperthread and the memory system are not flooded while we wait.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void spin_lock_contended(std::atomic<bool>& locked) noexcept;

class spin_lock {
public:
    void lock() noexcept {
        // acquire: pairs with unlock's release; the protected state is as the holder left it.
        if (locked_.exchange(true, std::memory_order_acquire)) spin_lock_contended(locked_);
    }
    // False at once if the lock is held (the load keeps a busy lock's line shared).
    bool try_lock() noexcept {
        // acquire: as in lock.
        return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

}  // namespace weft::detail
