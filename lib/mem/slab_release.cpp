// Provides the frame pool's return of free memory to the OS, Go's scavenger and
// debug.FreeOSMemory: weft::free_os_memory(), the end of run(), and a worker that runs out of
// work. The pool itself (magazines, depots, slabs, the shutdown walk) is frame_pool.cpp.
//
// Which slabs (release_free_slabs, one size class at a time)
//   1. A slab is free when all `capacity` of its blocks sit in its class's depot. That is
//      enough: a block that was cut is in use, in some thread's magazine, or in the depot, so
//      all of them in the depot means nobody holds one; and nobody still cuts from it,
//      because refill drops a bump slab the moment its last block is cut.
//   2. The depot's stock is swapped out (the lock held O(1)), so no allocation waits while
//      a million blocks are counted: meanwhile the depot looks empty (an allocation cuts
//      fresh blocks, a free starts a new stock), and a slab with a block outside the taken
//      stock simply does not count as free.
//   3. Three passes over the taken stock: zero each slab's depot_blocks, count, then pick
//      the free slabs (keeping a reserve, below); a fourth takes their blocks out.
//   4. The stock goes back; magazines left empty join the empty stock (8 kept, the rest
//      freed, and malloc_trim'd on glibc).
//   5. Each free slab leaves the registry (the shutdown walk no longer sees it), all its
//      64 KiB go back with madvise(MADV_DONTNEED), and it joins the registry's released
//      list, which new_slab takes from before carving (zero again, like a fresh slab; for
//      any class and either pool). The list's capacity is reserved for every slab ever
//      carved, so a release never allocates.
//
// When
//   - free_os_memory() and the end of run(): every free slab, after moving the calling
//     thread's own cached blocks to the depots.
//   - maybe_release_free_slabs, called by a worker before it parks: at most once a second,
//     only with release_threshold bytes free in the depots (g_stocked_bytes), and keeping
//     per class as many free slabs as the blocks traded out of that depot since the
//     previous call. A program that churns through frames keeps what it will take again;
//     one that went quiet gets the rest at the next call, for which a parked worker wakes
//     (release_follow_up_due), as it does after a call refused as too soon.
//
// What stays: a slab with one live block (fragmentation), blocks in threads' own magazines
// (at most three per class each), partial slabs. Rejected: releasing on every park (a burst
// every few milliseconds would fault its pages in again each time) and a background thread
// (CPU and a thread while idle; the parked worker's timeout does the same).
//
// Lock order: release_lock(), then a depot's lock, then (not nested) the registry's.
#include "mem/frame_pool.hpp"
#include "mem/pool_internals.hpp"

#include <sys/mman.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace weft::detail {

std::atomic<std::size_t> g_stocked_bytes{0};  // see pool_internals.hpp

namespace {

// Empty magazines a depot keeps when release_free_slabs empties some (enough for a few
// threads' next make_room); the rest are freed.
constexpr std::size_t empty_magazines_kept = 8;

// What one release_free_slabs call did.
struct release_result {
    std::size_t bytes = 0;            // returned to the OS
    std::size_t magazines_freed = 0;  // empty magazines deleted
    bool held_back = false;           // free slabs kept as the class's reserve
};

// Gives back to the OS the slabs of class c whose blocks are all in the depot (steps 1-5). With
// `keep_reserve`, as many of them as hold the blocks handed out of the depot since the last
// call stay (the class's recent demand: a program that churns through frames keeps what it
// will take again, one that has gone quiet gets everything back at the next call).
// The depot's stock is taken out while it is scanned, so the lock is held for O(1), not for
// a pass over a million blocks: meanwhile the depot looks empty (an allocation cuts fresh
// blocks, a free adds to a new stock), and a slab with a block outside the taken stock does
// not count as free, which is safe.
void release_free_slabs(pool_kind kind, std::size_t c, bool keep_reserve, release_result& result) noexcept {
    depot_state& d = depot(kind, c);
    std::vector<frame_magazine*> stock;
    std::size_t reserve = 0;
    {
        std::lock_guard guard(d.lock);
        reserve = keep_reserve ? d.taken_since_release : 0;
        d.taken_since_release = 0;
        stock.swap(d.stocked);
    }
    if (stock.empty()) return;
    // Ours alone now. Every block of a free slab is here: the first one met decides whether
    // the slab goes.
    const std::uint32_t releasing = ~std::uint32_t{0};  // depot_blocks of a slab being released
    slab* giving_back = nullptr;                        // linked through released_next
    for (frame_magazine* m : stock)
        for (std::uint32_t i = 0; i < m->count; ++i)
            slab_of(m->slots[i])->depot_blocks = 0;
    for (frame_magazine* m : stock)
        for (std::uint32_t i = 0; i < m->count; ++i)
            ++slab_of(m->slots[i])->depot_blocks;
    std::size_t kept = 0;
    for (frame_magazine* m : stock) {
        for (std::uint32_t i = 0; i < m->count; ++i) {
            slab* s = slab_of(m->slots[i]);
            if (s->depot_blocks != s->capacity) continue;
            if (kept < reserve) {
                kept += s->capacity;
                s->depot_blocks = 0;  // stays
                result.held_back = true;
                continue;
            }
            s->depot_blocks = releasing;
            s->released_next = giving_back;
            giving_back = s;
        }
    }
    std::size_t removed = 0;
    if (giving_back) {
        for (frame_magazine* m : stock) {
            std::uint32_t left = 0;
            for (std::uint32_t i = 0; i < m->count; ++i)
                if (slab_of(m->slots[i])->depot_blocks != releasing) m->slots[left++] = m->slots[i];
            removed += m->count - left;
            m->count = left;
        }
    }
    // Magazines left empty go to the empty stock, beyond empty_magazines_kept to the heap.
    const auto emptied =
        std::partition(stock.begin(), stock.end(), [](const frame_magazine* m) { return m->count != 0; });
    std::vector<frame_magazine*> surplus;
    {
        std::lock_guard guard(d.lock);
        g_stocked_bytes.fetch_sub(removed * size_of_class(c), std::memory_order_relaxed);
        d.stocked.insert(d.stocked.end(), stock.begin(), emptied);  // out of memory terminates, as in make_room
        d.empty.insert(d.empty.end(), emptied, stock.end());
        if (d.empty.size() > empty_magazines_kept) {
            surplus.assign(d.empty.begin() + empty_magazines_kept, d.empty.end());
            d.empty.resize(empty_magazines_kept);
        }
    }
    for (frame_magazine* m : surplus)
        ::operator delete(m);
    result.magazines_freed += surplus.size();
    auto& r = registry();
    while (slab* s = giving_back) {
        giving_back = s->released_next;  // read before the header goes too
        {
            std::lock_guard guard(r.lock);
            unregister_slab(r, s);
        }
        // Nobody holds a block of s, nobody cuts from it, it is out of every magazine and
        // out of the registry: its pages are ours to return, header and all.
        ::madvise(s, slab_bytes, MADV_DONTNEED);
        result.bytes += slab_bytes;
        std::lock_guard guard(r.lock);
        r.released.push_back(s);  // within the capacity reserved when s was carved
    }
}

// One release at a time, so that free_os_memory() returns only once a release running on
// another thread (maybe_release_free_slabs) has returned its pages too. Held across
// release_free_slabs, so it comes first in the lock order. Recursive: the shutdown walk holds
// it while it destroys frames, whose destructors may call free_os_memory.
std::recursive_mutex g_release_lock;
// A later maybe_release_free_slabs may return memory this one could not: it kept free slabs
// as a reserve, or it was refused as too early. Cleared by a call that keeps nothing back.
// Read by release_follow_up_due. Relaxed: a hint, ordering nothing.
std::atomic<bool> g_release_pending{false};
// When maybe_release_free_slabs last ran (steady_clock nanoseconds since its epoch); the CAS
// on it elects one caller per interval and orders nothing else.
std::atomic<std::int64_t> g_last_release_ns{0};
constexpr std::int64_t release_interval_ns = 1'000'000'000;

std::int64_t steady_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::size_t release_locked(bool flush_this_thread, bool keep_reserve) noexcept {  // requires g_release_lock
    if (flush_this_thread) {
        flush_thread_cache(pool_kind::frames, t_frame_cache);
        flush_thread_cache(pool_kind::objects, t_object_cache);
    }
    release_result result;
    for (pool_kind kind : {pool_kind::frames, pool_kind::objects})
        for (std::size_t c = 0; c < class_count; ++c)
            release_free_slabs(kind, c, keep_reserve, result);
    if (keep_reserve) g_release_pending.store(result.held_back, std::memory_order_relaxed);
#if defined(__GLIBC__)
    // The freed magazines' arrays (up to 8 KiB each) went back to malloc, which keeps them
    // resident until trimmed.
    if (result.magazines_freed) ::malloc_trim(0);
#endif
    return result.bytes;
}
}  // namespace

std::recursive_mutex& release_lock() noexcept {
    return g_release_lock;
}

std::size_t frame_pool_release(bool flush_this_thread) noexcept {
    std::lock_guard guard(g_release_lock);
    return release_locked(flush_this_thread, false);
}

void maybe_release_free_slabs() noexcept {
    if (g_stocked_bytes.load(std::memory_order_relaxed) < release_threshold) return;
    const std::int64_t now = steady_now_ns();
    std::int64_t last = g_last_release_ns.load(std::memory_order_relaxed);
    if (now - last < release_interval_ns) {
        g_release_pending.store(true, std::memory_order_relaxed);
        return;
    }
    if (!g_last_release_ns.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    std::unique_lock guard(g_release_lock, std::try_to_lock);
    if (guard.owns_lock()) release_locked(false, true);  // else one is running already
}

std::chrono::steady_clock::time_point release_follow_up_due() noexcept {
    if (!g_release_pending.load(std::memory_order_relaxed) ||
        g_stocked_bytes.load(std::memory_order_relaxed) < release_threshold)
        return std::chrono::steady_clock::time_point::max();
    // A little past the interval, so that the follow-up is not refused as too early.
    const auto last = std::chrono::nanoseconds(g_last_release_ns.load(std::memory_order_relaxed));
    return std::chrono::steady_clock::time_point(last + std::chrono::nanoseconds(release_interval_ns) +
                                                 std::chrono::milliseconds(10));
}

}  // namespace weft::detail
