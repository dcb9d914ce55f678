// Provides the frame pool's internal structures, shared by frame_pool.cpp (allocation, slabs,
// the shutdown walk) and slab_release.cpp (giving free slabs back to the OS). Private to lib/.
#pragma once

#include <weft/detail/frame_cache.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace weft::detail {

using detail::slab_bytes;
constexpr std::size_t chunk_bytes = 2 * 1024 * 1024;
using frame_classes::max_small;
constexpr std::size_t class_count = frame_classes::count;

enum class pool_kind : std::uint8_t { frames, objects };
constexpr std::size_t kind_count = 2;

struct slab {
    // frame_thread_cache::owner of the thread whose bump slab it is or last was (who cuts its
    // blocks). First: slab_owner_of reads it. Written when the slab becomes a bump slab, which
    // for a partial slab left by an exited thread races with frees of the blocks that thread
    // cut: atomic, relaxed (a stale owner only sends a block the long way home).
    std::atomic<std::uint32_t> owner;
    std::uint32_t block_size;
    std::uint32_t capacity;
    std::uint32_t bumped;       // blocks cut so far; written by the slab's current owner thread
    std::uint32_t index_magic;  // ceil(2^32 / block_size): offset -> index without a division
    // release_free_slabs only (one at a time): its blocks counted in the depot's stock.
    std::uint32_t depot_blocks;
    pool_kind kind;            // objects' slabs are skipped by the shutdown walk
    std::size_t mapped_bytes;  // huge slabs: the mapping's length; 0 for pooled slabs
    slab* prev;                // registry links, guarded by registry_lock
    slab* next;
    // The list of slabs a release_free_slabs call is giving back (its own).
    slab* released_next;
};
static_assert(sizeof(slab) <= 64, "the slab header fits in the 64 bytes before the blocks");
static_assert(offsetof(slab, owner) == 0, "slab_owner_of reads the owner at the slab's start");
// The blocks start at the slab's second cache line.
constexpr std::size_t slab_header_bytes = 64;
inline unsigned char* slab_data(slab* s) noexcept {
    return reinterpret_cast<unsigned char*>(s) + slab_header_bytes;
}

using frame_classes::class_of;
constexpr std::size_t size_of_class(std::size_t c) {
    return frame_classes::size_of(c);
}
constexpr std::uint32_t magazine_capacity_of(std::size_t c) {
    return frame_classes::magazine_capacity[c];
}

// A class's shared stock of magazines.
struct depot_state {
    std::mutex lock;
    std::vector<frame_magazine*> stocked;  // magazines holding blocks; guarded by lock
    std::vector<frame_magazine*> empty;    // magazines holding none; guarded by lock
    std::vector<slab*> partial;            // slabs with uncut blocks, from exited threads; guarded by lock
    std::size_t taken_since_release = 0;   // blocks traded out of stocked since the last release; guarded by lock
};

struct registry_state {
    std::mutex lock;
    slab* head = nullptr;  // all slabs in use; guarded by lock
    // Slabs whose pages went back to the OS, reused first by new_slab. Its capacity is kept
    // at every slab ever carved, so that a release never allocates. Guarded by lock.
    std::vector<slab*> released;
    std::size_t carved = 0;                 // slabs carved from chunks so far; guarded by lock
    unsigned char* chunk_cursor = nullptr;  // next free slab in the current chunk; guarded by lock
    unsigned char* chunk_end = nullptr;     // guarded by lock
};

// A class's depot and the slab registry (frame_pool.cpp).
depot_state& depot(pool_kind kind, std::size_t c);
registry_state& registry();
// Takes `s` out of the registry's list. Requires r.lock.
void unregister_slab(registry_state& r, slab* s) noexcept;
// Moves a thread's magazines and bump slabs to the depots (at its exit, or on free_os_memory).
void flush_thread_cache(pool_kind kind, frame_thread_cache& thread_cache) noexcept;
// One release at a time (slab_release.cpp); the shutdown walk holds it too. Recursive: the
// walk destroys frames, whose destructors may call free_os_memory.
std::recursive_mutex& release_lock() noexcept;

inline slab* slab_of(void* frame) noexcept {
    return reinterpret_cast<slab*>(reinterpret_cast<std::uintptr_t>(frame) & ~(slab_bytes - 1));
}

// Bytes of free blocks in every depot's stocked magazines, both pools. Changed under the
// depot locks; read, unlocked, by maybe_release_free_slabs as a hint (relaxed throughout:
// it orders nothing).
extern std::atomic<std::size_t> g_stocked_bytes;  // defined in slab_release.cpp
inline void count_stocked(const frame_magazine* m, std::size_t c, bool added) noexcept {
    const std::size_t bytes = std::size_t{m->count} * size_of_class(c);
    if (added) {
        g_stocked_bytes.fetch_add(bytes, std::memory_order_relaxed);
    } else {
        g_stocked_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    }
}

}  // namespace weft::detail
