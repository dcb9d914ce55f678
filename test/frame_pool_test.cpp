// Provides the doctest cases for the frame pool's treatment of blocks freed on another thread
// than the one that cut them (include/weft/detail/frame_cache.hpp, lib/mem/frame_pool.cpp):
// they go home through the depot instead of into the freeing thread's own magazines.
#include <weft/detail/promise.hpp>

#include <doctest/doctest.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

// A thread that stays alive between the jobs it is given (its frame cache with it) and runs
// each job to completion before call() returns.
class pinned_thread {
public:
    pinned_thread() : thread_([this] { loop(); }) {}
    pinned_thread(const pinned_thread&) = delete;
    pinned_thread& operator=(const pinned_thread&) = delete;
    ~pinned_thread() {
        call({});
        thread_.join();
    }

    void call(std::function<void()> job) {
        std::unique_lock lock(mutex_);
        const bool last = !job;
        job_ = last ? std::function<void()>([this] { done_ = true; }) : std::move(job);
        pending_ = true;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !pending_; });
    }

private:
    void loop() {
        std::unique_lock lock(mutex_);
        while (!done_) {
            changed_.wait(lock, [this] { return pending_; });
            job_();
            pending_ = false;
            changed_.notify_all();
        }
    }

    std::mutex mutex_;  // protects job_, pending_ and done_
    std::condition_variable changed_;
    std::function<void()> job_;
    bool pending_ = false;
    bool done_ = false;
    std::thread thread_;
};

constexpr std::size_t block_size = 96;
const std::size_t per_magazine =
    weft::detail::frame_classes::magazine_capacity[weft::detail::frame_classes::class_of(block_size)];

std::vector<void*> allocate(std::size_t n) {
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < n; ++i)
        blocks.push_back(weft::detail::frame_alloc(block_size));
    return blocks;
}

void release(const std::vector<void*>& blocks) {
    for (void* block : blocks)
        weft::detail::frame_free(block, block_size);
}

std::uint32_t own_id() {
    return weft::detail::t_frame_cache.owner;
}

}  // namespace

TEST_SUITE("frame pool") {
    TEST_CASE("a block is owned by the thread that cut it, and goes home when another thread frees it") {
        pinned_thread a;
        pinned_thread b;
        pinned_thread c;
        std::vector<void*> a_blocks;
        std::uint32_t a_id = 0;
        // A cuts three magazines' worth, all from slabs that carry its id.
        a.call([&] {
            a_blocks = allocate(3 * per_magazine);
            a_id = own_id();
        });
        REQUIRE(a_id != 0);
        for (void* block : a_blocks)
            REQUIRE(weft::detail::slab_owner_of(block) == a_id);

        // C cuts blocks of its own, to free them later.
        std::vector<void*> c_blocks;
        std::uint32_t c_id = 0;
        c.call([&] {
            c_blocks = allocate(3 * per_magazine);
            c_id = own_id();
        });
        CHECK(c_id != a_id);

        // B allocates and frees one block of its own, then frees all of A's: two full
        // magazines of them go to the depot, the third stays in B's foreign magazine.
        void* b_block = nullptr;
        void* b_again = nullptr;
        std::uint32_t b_id = 0;
        b.call([&] {
            b_block = weft::detail::frame_alloc(block_size);
            b_id = own_id();
            weft::detail::frame_free(b_block, block_size);
            release(a_blocks);
            // Its next allocation is its own block again, not one of A's it just freed.
            b_again = weft::detail::frame_alloc(block_size);
        });
        CHECK(b_id != a_id);
        CHECK(weft::detail::slab_owner_of(b_block) == b_id);
        CHECK(b_again == b_block);

        // C frees its blocks: a magazine of them goes to the depot after B's two, so that A's
        // refill has another thread's blocks nearer the top.
        c.call([&] { release(c_blocks); });

        // A, its magazines empty, takes its own blocks back from the depot.
        std::vector<void*> a_later;
        a.call([&] { a_later = allocate(2 * per_magazine); });
        const std::set<void*> a_set(a_blocks.begin(), a_blocks.end());
        std::size_t returned = 0;
        std::size_t foreign = 0;
        for (void* block : a_later) {
            returned += a_set.count(block);
            foreign += weft::detail::slab_owner_of(block) != a_id;
        }
        CHECK(foreign == 0);
        CHECK(returned == a_later.size());

        a.call([&] { release(a_later); });
        b.call([&] { weft::detail::frame_free(b_again, block_size); });
    }
}
