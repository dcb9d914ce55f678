// Provides coroutine frame allocation: per-thread size-class magazines over 64 KiB slabs.
//
// Design
//   1. Sizes up to 8 KiB map to 80 size classes (16-byte steps to 512, 64 to 2048, 256 to
//      8192). Larger frames get a slab of their own ("huge", capacity 1).
//   2. Each thread caches free blocks per class in two magazines (Bonwick's magazine
//      allocator): arrays of block pointers. Allocation pops from the loaded magazine and a
//      free pushes onto it, touching only thread-local state: no atomics, no locks, no malloc.
//      A block's memory is not read to find the next free block (a free list threaded
//      through the blocks makes every allocation wait on the previous cold block).
//   3. The loaded magazine empty: swap it with the second if that one has blocks, else trade
//      it at the class's depot (a mutex) for one with blocks; with none there, fill it with
//      fresh blocks cut from the thread's "bump" slab. The loaded magazine full: swap it
//      with the second if that one is empty, else hand the second (full) to the depot and
//      take an empty one.
//      So a thread always holds between 0 and 2 magazines of blocks, every depot trade moves
//      a whole magazine in O(1), and a block freed on another thread simply joins that
//      thread's magazines (ownership migrates): a producer/consumer pair recycles blocks
//      through the depot instead of growing without bound. Magazines themselves come from
//      the depot's stock of empty ones; only a new high-water mark allocates one.
//   4. When a thread exits, its magazines and bump slabs go to the depot.
//   5. Every slab is registered (registry_lock). A freed block gets frame_layout::free_mark
//      in its mode byte; a live frame holds its promise's mode there. run()'s shutdown walks
//      every block ever cut and destroys the live roots. (Rejected: a tag byte per block in
//      the slab header: two workers freeing neighbouring blocks write the same cache line.)
//   Slabs are carved from 2 MiB mappings. Huge ones are unmapped when freed; pooled ones go
//   back to the OS when they are entirely free (7).
//   6. Small runtime objects that are not frames (channel states) come from a second,
//      identical pool (pool_kind::objects): its own thread caches and depots, and slabs
//      marked as holding objects, which the shutdown walk skips. Its blocks carry no mark.
//   7. Giving memory back (release_free_slabs): a slab every one of whose blocks sits in its
//      class's depot is free. With the depot's stock taken out (the lock held only to swap
//      it), its blocks leave the stocked magazines; then it leaves the registry, its pages are returned with
//      MADV_DONTNEED, and it joins the released list, from which new_slab takes slabs (zero again, like fresh ones)
//      before it carves new ones, for any class and either pool.
//      Counting blocks in the depot is enough: a block cut from a slab is either in use, or
//      in some thread's magazine, or in the depot, so finding all `capacity` of them there
//      means nobody holds one; and no thread still cuts from it, because a bump slab is
//      dropped the moment its last block is cut. All 64 KiB go back, header included: the
//      released list is a vector whose capacity grows with every chunk carved, so a release
//      never allocates. Blocks in threads' own magazines (at most
//      two per class each) keep their slabs. Run by free_os_memory() and at the end of
//      run(), which return every free slab, and by a worker that runs out of work
//      (maybe_release_free_slabs: at most once a second, with release_threshold bytes free
//      in the depots), which keeps as many free slabs of each class as the blocks traded
//      out of its depot since the previous call: a program that churns keeps what it will
//      take again, one that went quiet gets the rest back at the next call, for which a
//      parked worker wakes (release_follow_up_due; also after a call refused as too soon). Go's scavenger returns idle
//      heap memory too, paced the same way by recent use.
//
// Rejected: a lock-free remote-free stack per owner (Go's, mimalloc's): cheaper for
// cross-thread frees, but needs an atomic per free and delays reuse; the magazine handoff
// above does one lock per magazine. Free lists threaded through the blocks (weft's first
// version): O(1) batch moves too, but allocating many frames whose blocks had left the
// cache chased one cold pointer after another. A registry of live tasks (linked list per worker): it costs
// two synchronized list operations per spawn; the tag walk costs nothing on the spawn path.
//
// Lock order: g_release_lock (one release at a time), then depot(c).lock or registry().lock;
// those two are leaves, and neither is held while taking the other (release_free_slabs
// takes them one after the other).
#include "mem/frame_pool.hpp"

#include <weft/detail/promise.hpp>

#include <sys/mman.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif
#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#define WEFT_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define WEFT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define WEFT_POISON(p, n) ((void)(p), (void)(n))
#define WEFT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace weft::detail {
namespace {

constexpr std::size_t slab_bytes = 64 * 1024;
constexpr std::size_t chunk_bytes = 2 * 1024 * 1024;
using frame_classes::max_small;
constexpr std::size_t class_count = frame_classes::count;

enum class pool_kind : std::uint8_t { frames, objects };
constexpr std::size_t kind_count = 2;

struct slab {
    std::uint32_t block_size;
    std::uint32_t capacity;
    std::uint32_t bumped;       // blocks cut so far; written by the slab's current owner thread
    std::uint32_t index_magic;  // ceil(2^32 / block_size): offset -> index without a division
    std::size_t mapped_bytes;   // huge slabs: the mapping's length; 0 for pooled slabs
    pool_kind kind;             // objects' slabs are skipped by the shutdown walk
    // release_free_slabs only (one at a time): its blocks counted in the depot's stock.
    std::uint32_t depot_blocks;
    slab* prev;  // registry links, guarded by registry_lock
    slab* next;
    unsigned char* data;
    // The list of slabs a release_free_slabs call is giving back (its own).
    slab* released_next;
};
static_assert(sizeof(slab) <= 64, "the slab header fits in the 64 bytes before the blocks");

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

// Function-local statics: usable from other static initializers and thread exits.
depot_state& depot(pool_kind kind, std::size_t c) {
    static auto* depots = new std::array<std::array<depot_state, class_count>, kind_count>();
    return (*depots)[static_cast<std::size_t>(kind)][c];
}
registry_state& registry() {
    static registry_state* r = new registry_state();
    return *r;
}

// Bytes of free blocks in every depot's stocked magazines, both pools. Changed under the
// depot locks; read, unlocked, by maybe_release_free_slabs as a hint (relaxed throughout:
// it orders nothing).
std::atomic<std::size_t> g_stocked_bytes{0};
void count_stocked(const frame_magazine* m, std::size_t c, bool added) noexcept {
    const std::size_t bytes = std::size_t{m->count} * size_of_class(c);
    if (added) {
        g_stocked_bytes.fetch_add(bytes, std::memory_order_relaxed);
    } else {
        g_stocked_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    }
}

using class_cache = frame_class_cache;
slab*& bump_of(class_cache& cache) noexcept {
    return reinterpret_cast<slab*&>(cache.bump);
}

void* map_aligned(std::size_t bytes) {
    void* raw = ::mmap(nullptr, bytes + slab_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    auto base = reinterpret_cast<std::uintptr_t>(raw);
    auto aligned = (base + slab_bytes - 1) & ~(slab_bytes - 1);
    if (aligned > base) ::munmap(raw, aligned - base);
    auto tail = base + bytes + slab_bytes - (aligned + bytes);
    if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    return reinterpret_cast<void*>(aligned);
}

void register_slab(registry_state& r, slab* s) {  // requires r.lock
    s->prev = nullptr;
    s->next = r.head;
    if (r.head) r.head->prev = s;
    r.head = s;
}

void init_slab(slab* s, std::size_t block_size, std::size_t total_bytes, std::size_t mapped, pool_kind kind) {
    const std::size_t data_offset = (sizeof(slab) + 63) & ~std::size_t{63};
    const std::size_t cap = (total_bytes - data_offset) / block_size;
    s->block_size = static_cast<std::uint32_t>(block_size);
    s->capacity = static_cast<std::uint32_t>(cap);
    s->bumped = 0;
    s->index_magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) + block_size - 1) / block_size);
    s->mapped_bytes = mapped;
    s->kind = kind;
    s->data = reinterpret_cast<unsigned char*>(s) + data_offset;
    WEFT_POISON(s->data, cap * block_size);
}

[[gnu::noinline, gnu::cold]] slab* new_slab(pool_kind kind, std::size_t c) {
    auto& r = registry();
    std::lock_guard guard(r.lock);
    slab* s = nullptr;
    if (!r.released.empty()) {
        s = r.released.back();  // all zero again, like a fresh one
        r.released.pop_back();
    } else {
        if (r.chunk_cursor == r.chunk_end) {
            r.released.reserve(r.carved + chunk_bytes / slab_bytes);  // before the mapping: may throw
            r.chunk_cursor = static_cast<unsigned char*>(map_aligned(chunk_bytes));
            r.chunk_end = r.chunk_cursor + chunk_bytes;
        }
        s = reinterpret_cast<slab*>(r.chunk_cursor);
        r.chunk_cursor += slab_bytes;
        ++r.carved;
    }
    init_slab(s, size_of_class(c), slab_bytes, 0, kind);
    register_slab(r, s);
    return s;
}

slab* slab_of(void* frame) noexcept {
    return reinterpret_cast<slab*>(reinterpret_cast<std::uintptr_t>(frame) & ~(slab_bytes - 1));
}
[[gnu::noinline, gnu::cold]] void* huge_alloc(std::size_t n) {
    std::size_t total = (n + sizeof(slab) + 1 + 127 + slab_bytes - 1) & ~(slab_bytes - 1);
    auto* s = static_cast<slab*>(map_aligned(total));
    init_slab(s, n, total, total, pool_kind::frames);
    s->capacity = 1;
    s->bumped = 1;
    auto& r = registry();
    {
        std::lock_guard guard(r.lock);
        register_slab(r, s);
    }
    WEFT_UNPOISON(s->data, n);
    return s->data;
}

// While frame_destroy_all_roots walks the slabs, huge slabs are not unmapped (a walk entry
// may still point at one): they are kept here and unmapped after the walk. Touched only by
// the thread running run()'s shutdown, while it is the only one running tasks.
bool g_walking = false;
std::vector<slab*>* g_deferred_unmaps = nullptr;

void unregister_slab(registry_state& r, slab* s) noexcept {  // requires r.lock
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        r.head = s->next;
    }
    if (s->next) s->next->prev = s->prev;
}

[[gnu::noinline, gnu::cold]] void huge_free(void* frame) noexcept {
    slab* s = slab_of(frame);
    auto& r = registry();
    {
        std::lock_guard guard(r.lock);
        unregister_slab(r, s);
    }
    if (g_walking) {
        g_deferred_unmaps->push_back(s);
        return;
    }
    ::munmap(s, s->mapped_bytes);
}

void flush_thread_cache(pool_kind kind, frame_thread_cache& thread_cache) noexcept;
struct thread_exit_flusher {
    ~thread_exit_flusher() {
        flush_thread_cache(pool_kind::frames, t_frame_cache);
        flush_thread_cache(pool_kind::objects, t_object_cache);
    }
};
// Makes sure this thread's magazines go to the depot when it exits.
void flush_at_thread_exit() noexcept {
    static thread_local thread_exit_flusher flusher;
    (void)flusher;
}

frame_magazine* new_magazine(std::size_t c) {
    const std::uint32_t capacity = magazine_capacity_of(c);
    void* raw = ::operator new (sizeof(frame_magazine) + std::size_t{capacity} * sizeof(void*));
    auto* m = static_cast<frame_magazine*>(raw);
    m->count = 0;
    m->capacity = capacity;
    m->slots = reinterpret_cast<void**>(m + 1);
    return m;
}

// Slow path of allocation: the loaded magazine of class c is empty (or absent).
[[gnu::noinline, gnu::cold]] void* refill(pool_kind kind, frame_thread_cache& thread_cache, std::size_t c) {
    flush_at_thread_exit();
    class_cache& cache = thread_cache.classes[c];
    if (cache.previous && cache.previous->count) {
        std::swap(cache.loaded, cache.previous);
        return cache.loaded->slots[--cache.loaded->count];
    }
    {
        depot_state& d = depot(kind, c);
        std::lock_guard guard(d.lock);
        if (!d.stocked.empty()) {
            // Trade: the empty second magazine goes back, the empty loaded one becomes the
            // second, a stocked one is loaded.
            if (cache.previous) d.empty.push_back(cache.previous);
            cache.previous = cache.loaded;
            cache.loaded = d.stocked.back();
            d.stocked.pop_back();
            count_stocked(cache.loaded, c, false);
            d.taken_since_release += cache.loaded->count;
        } else {
            if ((!bump_of(cache) || bump_of(cache)->bumped == bump_of(cache)->capacity) && !d.partial.empty()) {
                bump_of(cache) = d.partial.back();
                d.partial.pop_back();
            }
            if (!cache.loaded && !d.empty.empty()) {  // the thread's first allocation of class c
                cache.loaded = d.empty.back();
                d.empty.pop_back();
            }
        }
    }
    frame_magazine* m = cache.loaded;
    if (m && m->count) return m->slots[--m->count];
    // Nothing stocked: cut fresh blocks from the bump slab a magazine at a time, so a growing
    // program locks the depot once per magazine rather than once per block. Blocks cut but
    // not yet handed out are still zero (fresh pages), which the shutdown walk reads as
    // "not a root". Nothing touches their memory until they are allocated.
    if (!m) m = cache.loaded = new_magazine(c);
    if (!bump_of(cache) || bump_of(cache)->bumped == bump_of(cache)->capacity) bump_of(cache) = new_slab(kind, c);
    slab* s = bump_of(cache);
    const std::uint32_t n = std::min(m->capacity, s->capacity - s->bumped);
    // In reverse: the magazine hands out its last slot first, so blocks go out in address order.
    for (std::uint32_t i = 0; i < n; ++i)
        m->slots[n - 1 - i] = s->data + std::size_t{s->bumped + i} * s->block_size;
    s->bumped += n;
    if (s->bumped == s->capacity) bump_of(cache) = nullptr;  // so a free slab is nobody's bump slab (7)
    m->count = n;
    return m->slots[--m->count];
}

// Slow path of free: the loaded magazine of class c is full (or absent). Leaves room in it.
[[gnu::noinline, gnu::cold]] void make_room(pool_kind kind, frame_thread_cache& thread_cache, std::size_t c) {
    flush_at_thread_exit();
    class_cache& cache = thread_cache.classes[c];
    if (cache.loaded && cache.previous && cache.previous->count == 0) {
        std::swap(cache.loaded, cache.previous);
        return;
    }
    frame_magazine* fresh = nullptr;
    {
        depot_state& d = depot(kind, c);
        std::lock_guard guard(d.lock);
        if (frame_magazine* second = std::exchange(cache.previous, nullptr)) {
            (second->count ? d.stocked : d.empty).push_back(second);  // full, in practice
            count_stocked(second, c, true);
        }
        if (!d.empty.empty()) {
            fresh = d.empty.back();
            d.empty.pop_back();
        }
    }
    if (!fresh) fresh = new_magazine(c);  // a new high-water mark (or the thread's first)
    cache.previous = cache.loaded;
    cache.loaded = fresh;
}

void flush_thread_cache(pool_kind kind, frame_thread_cache& thread_cache) noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
        class_cache& cache = thread_cache.classes[c];
        depot_state& d = depot(kind, c);
        std::lock_guard guard(d.lock);
        for (frame_magazine* m : {std::exchange(cache.loaded, nullptr), std::exchange(cache.previous, nullptr)}) {
            if (!m) continue;
            (m->count ? d.stocked : d.empty).push_back(m);
            count_stocked(m, c, true);
        }
        if (bump_of(cache) && bump_of(cache)->bumped < bump_of(cache)->capacity) d.partial.push_back(bump_of(cache));
        bump_of(cache) = nullptr;
    }
}

// Empty magazines a depot keeps when release_free_slabs empties some (enough for a few
// threads' next make_room); the rest are freed.
constexpr std::size_t empty_magazines_kept = 8;

// What one release_free_slabs call did.
struct release_result {
    std::size_t bytes = 0;            // returned to the OS
    std::size_t magazines_freed = 0;  // empty magazines deleted
    bool held_back = false;           // free slabs kept as the class's reserve
};

// Gives back to the OS the slabs of class c whose blocks are all in the depot (7). With
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

// The common slow paths of both pools, for sizes up to max_small.
void* pooled_alloc_slow(pool_kind kind, frame_thread_cache& thread_cache, std::size_t n) {
    const std::size_t c = class_of(n);
    frame_magazine* m = thread_cache.classes[c].loaded;
    void* block = m && m->count ? m->slots[--m->count] : refill(kind, thread_cache, c);
    WEFT_UNPOISON(block, n);
    return block;
}

void pooled_free_slow(pool_kind kind, frame_thread_cache& thread_cache, void* block, std::size_t n) noexcept {
    const std::size_t c = class_of(n);
    WEFT_POISON(block, size_of_class(c));
    frame_magazine* m = thread_cache.classes[c].loaded;
    if (!m || m->count == m->capacity) {
        make_room(kind, thread_cache, c);  // noexcept: out of memory for a magazine terminates
        m = thread_cache.classes[c].loaded;
    }
    m->slots[m->count++] = block;
}

}  // namespace

constinit thread_local frame_thread_cache t_frame_cache{};
constinit thread_local frame_thread_cache t_object_cache{};

void* frame_alloc_slow(std::size_t n) {
    if (n > max_small) return huge_alloc(n);
    return pooled_alloc_slow(pool_kind::frames, t_frame_cache, n);
}

void frame_free_slow(void* frame, std::size_t n) noexcept {
    static_cast<unsigned char*>(frame)[frame_layout::mode_offset()] = frame_layout::free_mark;
    if (n > max_small) return huge_free(frame);
    pooled_free_slow(pool_kind::frames, t_frame_cache, frame, n);
}

void* object_alloc_slow(std::size_t n) {
    if (n > max_small) return ::operator new (n, std::align_val_t{object_alignment});
    return pooled_alloc_slow(pool_kind::objects, t_object_cache, n);
}

void object_free_slow(void* object, std::size_t n) noexcept {
    if (n > max_small) return ::operator delete (object, std::align_val_t{object_alignment});
    pooled_free_slow(pool_kind::objects, t_object_cache, object, n);
}

std::size_t frame_last_request() noexcept {
    return t_frame_cache.last_request;
}

namespace {
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

std::size_t frame_destroy_all_roots() noexcept {
    // No release meanwhile (free_os_memory from a thread outside the runtime): the walk reads
    // the headers and blocks of the slabs it listed.
    std::lock_guard release_guard(g_release_lock);
    std::vector<slab*> slabs;
    {
        auto& r = registry();
        std::lock_guard guard(r.lock);
        for (slab* s = r.head; s; s = s->next)
            slabs.push_back(s);
    }
    std::vector<slab*> deferred;
    g_deferred_unmaps = &deferred;
    g_walking = true;  // a huge child frame freed below stays mapped until the walk ends
    const std::size_t at = frame_layout::mode_offset();
    std::size_t destroyed = 0;
    for (slab* s : slabs) {
        if (s->kind != pool_kind::frames) continue;
        const std::uint32_t bumped = s->bumped;
        for (std::uint32_t i = 0; i < bumped; ++i) {
            unsigned char* block = s->data + std::size_t{i} * s->block_size;
            WEFT_UNPOISON(block + at, 1);
            const std::uint8_t mode = block[at];
            if (mode == static_cast<std::uint8_t>(task_mode::detached) ||
                mode == static_cast<std::uint8_t>(task_mode::joinable)) {
                // A joinable task that threw and was never collected still holds its box.
                if (mode == static_cast<std::uint8_t>(task_mode::joinable))
                    delete_escaped(frame_layout::promise_of(block).take_join_failure());
                std::coroutine_handle<>::from_address(block).destroy();
                ++destroyed;
            } else if (mode == frame_layout::free_mark) {
                WEFT_POISON(block + at, 1);
            }
        }
    }
    g_walking = false;
    g_deferred_unmaps = nullptr;
    for (slab* s : deferred)
        ::munmap(s, s->mapped_bytes);
    return destroyed;
}

}  // namespace weft::detail
