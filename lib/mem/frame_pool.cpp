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
//      So a thread always holds between 0 and 2 magazines of blocks to allocate from, every
//      depot trade moves a whole magazine in O(1), and a producer/consumer pair recycles
//      blocks through the depot instead of growing without bound. Magazines themselves come
//      from the depot's stock of empty ones; only a new high-water mark allocates one.
//   3a. Blocks go home. Each slab records the thread that cuts it (its owner, the first word
//      of its header); a free compares it with the freeing thread's id. Another thread's
//      block goes to a third, "foreign" magazine, which when full goes to the depot tagged
//      with its blocks' owner, and a refill at the depot takes a magazine of its own blocks
//      first. So a thread keeps allocating blocks of its own slabs, and two threads' frames
//      do not end up as neighbours in one cache line, which each would keep taking from the
//      other's cache (see magazine_put in frame_cache.hpp for what it cost fork-join code).
//      The check costs a load of the slab header and a select on every free.
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
//   7. Slabs whose blocks are all free go back to the OS: see slab_release.cpp.
//
// Rejected: a lock-free remote-free stack per owner (Go's, mimalloc's): cheaper for
// cross-thread frees, but needs an atomic per free and delays reuse; the magazine handoff
// above does one lock per magazine, and 3a sends blocks home at that granularity. Size
// classes rounded up to whole cache lines (no line is ever shared by two blocks): that
// also ends the sharing of 3a, but costs up to 60% more memory (an 80-byte frame parked in
// wait_group::wait would take 128), against the 128-byte target of bench/sched_idle_memory.cpp. Free lists threaded
// through the blocks (weft's first version): O(1) batch moves too, but allocating many frames whose blocks had left the
// cache chased one cold pointer after another. A registry of live tasks (linked list per worker): it costs
// two synchronized list operations per spawn; the tag walk costs nothing on the spawn path.
//
// Lock order: release_lock() (slab_release.cpp: one release at a time; the shutdown walk
// holds it too), then depot(c).lock or registry().lock; those two are leaves, and neither is
// held while taking the other.
#include "mem/frame_pool.hpp"
#include "mem/pool_internals.hpp"

#include <weft/detail/promise.hpp>

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
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

// Function-local statics: usable from other static initializers and thread exits.
depot_state& depot(pool_kind kind, std::size_t c) {
    static auto* depots = new std::array<std::array<depot_state, class_count>, kind_count>();
    return (*depots)[static_cast<std::size_t>(kind)][c];
}
registry_state& registry() {
    static registry_state* r = new registry_state();
    return *r;
}

void unregister_slab(registry_state& r, slab* s) noexcept {  // requires r.lock
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        r.head = s->next;
    }
    if (s->next) s->next->prev = s->prev;
}

namespace {

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
    const std::size_t cap = (total_bytes - slab_header_bytes) / block_size;
    s->block_size = static_cast<std::uint32_t>(block_size);
    s->capacity = static_cast<std::uint32_t>(cap);
    s->bumped = 0;
    s->index_magic = static_cast<std::uint32_t>(((std::uint64_t{1} << 32) + block_size - 1) / block_size);
    s->mapped_bytes = mapped;
    s->kind = kind;
    s->owner.store(0, std::memory_order_relaxed);
    WEFT_POISON(slab_data(s), cap * block_size);
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
    WEFT_UNPOISON(slab_data(s), n);
    return slab_data(s);
}

// While frame_destroy_all_roots walks the slabs, huge slabs are not unmapped (a walk entry
// may still point at one): they are kept here and unmapped after the walk. Touched only by
// the thread running run()'s shutdown, while it is the only one running tasks.
bool g_walking = false;
std::vector<slab*>* g_deferred_unmaps = nullptr;

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

// Hands out frame_thread_cache::owner ids. Relaxed: ids need only be distinct.
std::atomic<std::uint32_t> g_next_owner{1};

std::uint32_t owner_id(frame_thread_cache& thread_cache) noexcept {
    while (thread_cache.owner == 0)  // 0 means "none": skipped when the count wraps
        thread_cache.owner = g_next_owner.fetch_add(1, std::memory_order_relaxed);
    return thread_cache.owner;
}

// Puts `m` into depot `d` (its lock held): stocked, tagged with the owner of the block it will
// hand out first, or empty.
void stock_magazine(depot_state& d, std::size_t c, frame_magazine* m) {
    if (m->count == 0) {
        d.empty.push_back(m);
        return;
    }
    m->owner = slab_owner_of(m->slots[m->count - 1]);
    d.stocked.push_back(m);
    count_stocked(m, c, true);
}

// Takes a stocked magazine from depot `d` (its lock held, stocked not empty): the newest one
// of `owner`'s own blocks among the last few stocked, else the newest.
frame_magazine* take_stocked(depot_state& d, std::uint32_t owner) noexcept {
    constexpr std::size_t looked_at = 8;  // a bound on the time the lock is held
    auto& stocked = d.stocked;
    for (std::size_t i = stocked.size(), seen = 0; i-- > 0 && seen < looked_at; ++seen) {
        if (stocked[i]->owner == owner) {
            std::swap(stocked[i], stocked.back());
            break;
        }
    }
    frame_magazine* m = stocked.back();
    stocked.pop_back();
    return m;
}

frame_magazine* new_magazine(std::size_t c) {
    const std::uint32_t capacity = magazine_capacity_of(c);
    void* raw = ::operator new (sizeof(frame_magazine) + std::size_t{capacity} * sizeof(void*));
    auto* m = static_cast<frame_magazine*>(raw);
    m->count = 0;
    m->capacity = capacity;
    m->slots = reinterpret_cast<void**>(m + 1);
    m->owner = 0;
    return m;
}

// The slow paths below see a missing loaded or foreign magazine as null, not no_magazine:
// this puts no_magazine back when they return.
class sentinels_restored {
public:
    explicit sentinels_restored(class_cache& cache) noexcept : cache_(cache) {
        if (cache.loaded == &no_magazine) cache.loaded = nullptr;
        if (cache.foreign == &no_magazine) cache.foreign = nullptr;
    }
    sentinels_restored(const sentinels_restored&) = delete;
    sentinels_restored& operator=(const sentinels_restored&) = delete;
    ~sentinels_restored() {
        if (!cache_.loaded) cache_.loaded = &no_magazine;
        if (!cache_.foreign) cache_.foreign = &no_magazine;
    }

private:
    class_cache& cache_;
};

// Slow path of allocation: the loaded magazine of class c is empty (or absent).
[[gnu::noinline, gnu::cold]] void* refill(pool_kind kind, frame_thread_cache& thread_cache, std::size_t c) {
    flush_at_thread_exit();
    const std::uint32_t self = owner_id(thread_cache);
    class_cache& cache = thread_cache.classes[c];
    const sentinels_restored restored(cache);
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
            cache.loaded = take_stocked(d, self);
            count_stocked(cache.loaded, c, false);
            d.taken_since_release += cache.loaded->count;
        } else {
            if ((!bump_of(cache) || bump_of(cache)->bumped == bump_of(cache)->capacity) && !d.partial.empty()) {
                bump_of(cache) = d.partial.back();
                d.partial.pop_back();
                bump_of(cache)->owner.store(self,
                                            std::memory_order_relaxed);  // the blocks it cuts from now on are ours
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
    if (!bump_of(cache) || bump_of(cache)->bumped == bump_of(cache)->capacity) {
        bump_of(cache) = new_slab(kind, c);
        bump_of(cache)->owner.store(self, std::memory_order_relaxed);
    }
    slab* s = bump_of(cache);
    const std::uint32_t n = std::min(m->capacity, s->capacity - s->bumped);
    // In reverse: the magazine hands out its last slot first, so blocks go out in address order.
    for (std::uint32_t i = 0; i < n; ++i)
        m->slots[n - 1 - i] = slab_data(s) + std::size_t{s->bumped + i} * s->block_size;
    s->bumped += n;
    if (s->bumped == s->capacity) bump_of(cache) = nullptr;  // so a free slab is nobody's bump slab (7)
    m->count = n;
    return m->slots[--m->count];
}

// Slow path of free: the loaded magazine of class c is full (or absent). Leaves room in it.
[[gnu::noinline, gnu::cold]] void make_room(pool_kind kind, frame_thread_cache& thread_cache, std::size_t c) {
    flush_at_thread_exit();
    class_cache& cache = thread_cache.classes[c];
    const sentinels_restored restored(cache);
    if (cache.loaded && cache.previous && cache.previous->count == 0) {
        std::swap(cache.loaded, cache.previous);
        return;
    }
    frame_magazine* fresh = nullptr;
    {
        depot_state& d = depot(kind, c);
        std::lock_guard guard(d.lock);
        if (frame_magazine* second = std::exchange(cache.previous, nullptr))
            stock_magazine(d, c, second);  // full, in practice
        if (!d.empty.empty()) {
            fresh = d.empty.back();
            d.empty.pop_back();
        }
    }
    if (!fresh) fresh = new_magazine(c);  // a new high-water mark (or the thread's first)
    cache.previous = cache.loaded;
    cache.loaded = fresh;
}

// Slow path of a free of another thread's block: the foreign magazine of class c is full (or
// absent). It goes to the depot, where its blocks' owner will look for it first
// (take_stocked), and an empty one takes its place.
[[gnu::noinline, gnu::cold]] void make_foreign_room(pool_kind kind, frame_thread_cache& thread_cache, std::size_t c) {
    flush_at_thread_exit();
    class_cache& cache = thread_cache.classes[c];
    const sentinels_restored restored(cache);
    frame_magazine* fresh = nullptr;
    {
        depot_state& d = depot(kind, c);
        std::lock_guard guard(d.lock);
        if (frame_magazine* full = std::exchange(cache.foreign, nullptr)) stock_magazine(d, c, full);
        if (!d.empty.empty()) {
            fresh = d.empty.back();
            d.empty.pop_back();
        }
    }
    cache.foreign = fresh ? fresh : new_magazine(c);
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
    if (slab_owner_of(block) != thread_cache.owner) {  // see magazine_put (frame_cache.hpp)
        frame_magazine* m = thread_cache.classes[c].foreign;
        if (!m || m->count == m->capacity) {
            make_foreign_room(kind, thread_cache, c);  // noexcept: as make_room below
            m = thread_cache.classes[c].foreign;
        }
        m->slots[m->count++] = block;
        return;
    }
    frame_magazine* m = thread_cache.classes[c].loaded;
    if (!m || m->count == m->capacity) {
        make_room(kind, thread_cache, c);  // noexcept: out of memory for a magazine terminates
        m = thread_cache.classes[c].loaded;
    }
    m->slots[m->count++] = block;
}

}  // namespace

void flush_thread_cache(pool_kind kind, frame_thread_cache& thread_cache) noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
        class_cache& cache = thread_cache.classes[c];
        depot_state& d = depot(kind, c);
        std::lock_guard guard(d.lock);
        for (frame_magazine* m : {std::exchange(cache.loaded, &no_magazine), std::exchange(cache.previous, nullptr),
                                  std::exchange(cache.foreign, &no_magazine)})
            if (m && m != &no_magazine) stock_magazine(d, c, m);
        if (bump_of(cache) && bump_of(cache)->bumped < bump_of(cache)->capacity) d.partial.push_back(bump_of(cache));
        bump_of(cache) = nullptr;
    }
}

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

std::size_t frame_destroy_all_roots() noexcept {
    // No release meanwhile (free_os_memory from a thread outside the runtime): the walk reads
    // the headers and blocks of the slabs it listed.
    std::lock_guard release_guard(release_lock());
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
            unsigned char* block = slab_data(s) + std::size_t{i} * s->block_size;
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
