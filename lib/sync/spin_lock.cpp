// Provides the contended path of spin_lock: spin with exponential backoff, then yield.
//
// Why backoff. A waiter that polls the lock's line every few cycles takes it away from the
// holder each time (shared, then lost to the holder's unlock), and the moment the holder
// unlocks the waiter's exchange wins: the two cores then alternate strictly, paying a
// cache-line transfer per critical section. Waiting longer after each failed attempt leaves
// the line with the holder, which can run several short critical sections in a row
// (measured on the 2-core machine by bench/chan_mpmc.cpp, whose 8 tasks share one channel
// lock). The backoff is capped so a waiter notices a free lock within about a microsecond.
#include <weft/detail/spin_lock.hpp>

#include <thread>

namespace weft::detail {
namespace {

constexpr unsigned first_backoff = 4;        // pauses after the first failed attempt
constexpr unsigned max_backoff = 128;        // pauses between attempts at most
constexpr unsigned spins_before_yield = 64;  // attempts before yielding the thread

}  // namespace

void spin_lock_contended(std::atomic<bool>& locked) noexcept {
    unsigned backoff = first_backoff;
    for (unsigned attempts = 0;; ++attempts) {
        if (attempts < spins_before_yield) {
            for (unsigned i = 0; i < backoff; ++i)
                cpu_relax();
            if (backoff < max_backoff) backoff *= 2;
        } else {
            std::this_thread::yield();  // the holder may have been preempted
        }
        // acquire: pairs with unlock's release (see spin_lock::lock).
        if (!locked.load(std::memory_order_relaxed) && !locked.exchange(true, std::memory_order_acquire)) return;
    }
}

}  // namespace weft::detail
