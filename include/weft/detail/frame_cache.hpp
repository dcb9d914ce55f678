// Provides the frame pool's per-thread cache and its inline fast paths: allocating or
// freeing a coroutine frame is a few instructions on thread-local data (no atomics, no
// locks). The slow paths and the pool's design are in lib/mem/frame_pool.cpp.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_DETAIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_DETAIL_ASAN 1
#endif
#endif
#ifndef WEFT_DETAIL_ASAN
#define WEFT_DETAIL_ASAN 0  // under ASan every call takes the slow path, which poisons blocks
#endif

namespace weft::detail {

namespace frame_classes {
inline constexpr std::size_t max_small = 8192;  // larger frames get a slab of their own
inline constexpr std::size_t count = 80;
// How many allocations ahead frame_alloc prefetches: a DRAM miss lasts several spawns (16 beat
// 4 and 8 on bench/sched_spawn_join.cpp with 1 worker, where 1,000,000 frames are cold).
inline constexpr std::uint32_t prefetch_distance = 16;

// 16-byte steps to 512, 64 to 2048, 256 to 8192.
constexpr std::size_t class_of(std::size_t n) noexcept {
    if (n <= 512) return n == 0 ? 0 : (n + 15) / 16 - 1;
    if (n <= 2048) return 32 + (n - 512 + 63) / 64 - 1;
    return 56 + (n - 2048 + 255) / 256 - 1;
}
constexpr std::size_t size_of(std::size_t c) noexcept {
    if (c < 32) return (c + 1) * 16;
    if (c < 56) return 512 + (c - 31) * 64;
    return 2048 + (c - 55) * 256;
}
static_assert(class_of(16) == 0 && class_of(512) == 31 && class_of(513) == 32 && class_of(2048) == 55);
static_assert(class_of(2049) == 56 && class_of(8192) == 79 && size_of(79) == 8192);

// Blocks per magazine: about 64 KiB of blocks, at least 16, at most 1024.
inline constexpr auto magazine_capacity = [] {
    std::array<std::uint32_t, count> limits{};
    for (std::size_t c = 0; c < count; ++c) {
        std::size_t n = 64 * 1024 / size_of(c);
        limits[c] = static_cast<std::uint32_t>(n < 16 ? 16 : (n > 1024 ? 1024 : n));
    }
    return limits;
}();
}  // namespace frame_classes

// A magazine: an array of free blocks of one class (Bonwick's magazine allocator). Taking a
// block reads the array, not the block, so a run of allocations never waits for one cold
// block to learn where the next one is (a free list threaded through the blocks does).
struct frame_magazine {
    std::uint32_t count;     // blocks held, in slots[0, count)
    std::uint32_t capacity;  // frame_classes::magazine_capacity of its class
    void** slots;            // the array, allocated right after this header
    // In a depot: the owner (frame_thread_cache::owner) of the slab its top block came from,
    // so that a thread refilling there takes back its own blocks first (frame_pool.cpp).
    std::uint32_t owner;
};
// Stands for a missing loaded or foreign magazine: it holds nothing and has no room, so the
// fast paths need no null test (the slow paths, in frame_pool.cpp, see null instead).
inline constinit frame_magazine no_magazine{0, 0, nullptr, 0};
struct frame_class_cache {
    frame_magazine* loaded = &no_magazine;   // allocation pops and frees of own blocks push here
    frame_magazine* previous = nullptr;      // the second magazine (full or empty), or null
    frame_magazine* foreign = &no_magazine;  // frees of other threads' blocks, on their way back
    void* bump = nullptr;                    // the slab fresh blocks are cut from (frame_pool.cpp)
};
struct frame_thread_cache {
    frame_class_cache classes[frame_classes::count];
    std::size_t last_request;
    // This cache's id (nonzero once it allocated), written into the slabs it cuts blocks
    // from: a block whose slab carries it is this thread's own.
    std::uint32_t owner;
};
// Constant-initialized and trivially destructible: no TLS guard on access.
extern constinit thread_local frame_thread_cache t_frame_cache;
// The same structure for the object pool (channel states): see object_alloc below.
extern constinit thread_local frame_thread_cache t_object_cache;

// Blocks live in slabs of this size and alignment, each of one size class and cut by one
// thread, whose frame_thread_cache::owner the slab's first word holds (lib/mem/pool_internals.hpp).
inline constexpr std::size_t slab_bytes = 64 * 1024;
inline std::uint32_t slab_owner_of(const void* block) noexcept {
    const auto* owner = reinterpret_cast<const std::atomic<std::uint32_t>*>(reinterpret_cast<std::uintptr_t>(block) &
                                                                            ~(slab_bytes - 1));
    return owner->load(std::memory_order_relaxed);  // orders nothing: see slab::owner
}

void* frame_alloc_slow(std::size_t size);
// The size of the last frame allocated on this thread (benchmarks report frame sizes).
std::size_t frame_last_request() noexcept;
void frame_free_slow(void* frame, std::size_t size) noexcept;

// Takes a block of `size` bytes from `cache`'s loaded magazine, or null if it is empty (or
// no_magazine).
inline void* magazine_take(frame_thread_cache& cache, std::size_t size) noexcept {
    frame_magazine* m = cache.classes[frame_classes::class_of(size)].loaded;
    if (!m->count) return nullptr;
    // A run of allocations writes blocks whose lines may have left the cache: start
    // fetching the block `prefetch_distance` allocations ahead now.
    if (m->count > frame_classes::prefetch_distance)
        __builtin_prefetch(m->slots[m->count - 1 - frame_classes::prefetch_distance], 1);
    void* block = m->slots[--m->count];
    // Magazines hold blocks only: telling the compiler lets the caller's null test (empty
    // magazine) fold into the count test above.
    if (!block) __builtin_unreachable();
    return block;
}
// Puts `block` into `cache`'s loaded magazine if it is one of this thread's own blocks, else
// into the foreign one; false if that one is full (or no_magazine).
//
// Why two: blocks of one slab share cache lines (an 80-byte frame and its neighbour), and a
// fork-join program keeps reusing the same few dozen frames on each worker. If the thief
// of a task reused the victim's blocks it frees (the stolen task's joiner resumes on the
// thief, and frees the frames of the victim's tasks there), the two workers' hot frames
// would share lines, and every write to one would take the line from the other worker's
// cache. Foreign blocks therefore travel back through the depot to the thread that cut
// them: in bench/sched_fib_fork.cpp on 2 workers that sharing cost 12% (36.3 -> 32.1 ms,
// docs/design/memory.md).
inline bool magazine_put(frame_thread_cache& cache, void* block, std::size_t size) noexcept {
    frame_class_cache& cc = cache.classes[frame_classes::class_of(size)];
    frame_magazine* m = cc.loaded;
    // A branch, not a select: the loaded magazine's address must not wait for the slab
    // header's load, or every free lengthens the chain of magazine counts that allocations
    // and frees run along (bench/sched_fib_fork.cpp on one worker: the check costs 2.7% as
    // a branch, and cost 5.6% as a select).
    if (slab_owner_of(block) != cache.owner) [[unlikely]]
        m = cc.foreign;
    if (m->count == m->capacity) return false;
    m->slots[m->count++] = block;
    return true;
}

// The object pool: the frame pool's size classes and magazines for runtime objects that are
// not coroutine frames (channel states, context nodes, heap timer states), so that making
// a channel, a context or a timer does not call malloc.
// Blocks are aligned to `object_alignment` when `size` is a multiple of it (every size
// class is a multiple of 64 when the request is), and to 16 otherwise. Any thread; a block
// may be freed on another thread than the one that allocated it.
inline constexpr std::size_t object_alignment = 64;
void* object_alloc_slow(std::size_t size);
void object_free_slow(void* object, std::size_t size) noexcept;

inline void* object_alloc(std::size_t size) {
    if constexpr (!WEFT_DETAIL_ASAN) {
        if (size <= frame_classes::max_small)
            if (void* block = magazine_take(t_object_cache, size)) return block;
    }
    return object_alloc_slow(size);
}
inline void object_free(void* object, std::size_t size) noexcept {
    if constexpr (!WEFT_DETAIL_ASAN) {
        if (size <= frame_classes::max_small && magazine_put(t_object_cache, object, size)) return;
    }
    object_free_slow(object, size);
}

}  // namespace weft::detail
