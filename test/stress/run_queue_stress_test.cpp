// Provides the run queue's stress tests: one owner pushing and popping in random bursts
// while thieves steal, under both pop protocols and across the switches between them
// (lib/sched/run_queue.hpp). Every task must be taken exactly once: a task taken by both
// the owner and a thief, or by nobody, is the bug these protocols exist to prevent.
// Sized by WEFT_TEST_SCALE like the unit tests.
#include "sched/heavy_barrier.hpp"
#include "sched/run_queue.hpp"

#include "../test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace {

using weft::detail::run_queue;

// A task is the address of its counter; queues never resume what they hold.
struct alignas(8) token {
    std::atomic<int> taken{0};
};

std::coroutine_handle<> handle_of(token& t) {
    return std::coroutine_handle<>::from_address(&t);
}
void mark(void* task) {
    static_cast<token*>(task)->taken.fetch_add(1, std::memory_order_relaxed);
}

struct xorshift {
    std::uint32_t state;
    std::uint32_t operator()() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
};

void busy(std::uint32_t steps) {
    for (std::uint32_t i = 0; i < steps; ++i)
        weft::detail::cpu_relax();
}

struct outcome {
    std::size_t wrong = 0;        // tokens not taken exactly once
    std::size_t first_wrong = 0;  // index of the first, and its count
    int first_wrong_count = 0;
    std::size_t stolen = 0;       // tokens thieves took
    std::size_t light_pops = 0;   // owner pops under the light protocol
    std::size_t fenced_pops = 0;  // and under the fenced one
};

// `tokens` tasks go through one owner's queue while `thieves` threads steal from it. The
// owner pushes bursts of 1..48 (or, into an empty queue, one batch of 1..127) and pops
// bursts of 1..48 (sometimes the oldest), overflows
// into a side list when full, and calls adapt_to_thieves every 8 operations (the worker's
// periodic tick), so the queue goes light whenever the thieves pause and fenced after a
// steal. Thieves pause a random 0..max_pause-1 `pause`s between attempts.
outcome run_owner_and_thieves(std::size_t tokens, unsigned thieves, std::uint32_t seed, std::uint32_t max_pause) {
    std::vector<token> all(tokens);
    auto queue = std::make_unique<run_queue>(true, weft::detail::heavy_barrier_available());
    std::atomic<bool> done{false};
    std::atomic<std::size_t> stolen{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < thieves; ++t) {
        threads.emplace_back([&, t] {
            xorshift rng{seed * 7919u + t + 1};
            void* out[run_queue::capacity / 2];
            std::size_t mine = 0;
            // done is set after the owner's last pop: a final look then finds nothing.
            while (!done.load(std::memory_order_acquire)) {
                const std::uint32_t n = queue->steal(out, 1 + rng() % (run_queue::capacity / 2));
                for (std::uint32_t i = 0; i < n; ++i)
                    mark(out[i]);
                mine += n;
                busy(rng() % max_pause);
            }
            stolen.fetch_add(mine);
        });
    }
    outcome result;
    xorshift rng{seed};
    std::size_t next = 0;
    unsigned ops = 0;
    void* half[run_queue::capacity / 2];
    auto tick = [&] {
        if (++ops % 8 == 0) queue->adapt_to_thieves();
    };
    auto pop_one = [&]() -> bool {
        const bool light = queue->light();
        std::coroutine_handle<> task = (rng() % 16 == 0) ? queue->pop_oldest() : queue->pop_newest();
        tick();
        if (!task) return false;
        (light ? result.light_pops : result.fenced_pops) += 1;
        mark(task.address());
        return true;
    };
    void* batch[run_queue::capacity / 2];
    while (next < tokens) {
        if (queue->empty() && rng() % 2 == 0) {
            // Refill an empty queue with one batch, as a worker does with what it stole
            // (push_batch) or took from the injection queue (push_batch_reversed).
            std::uint32_t count = 0;
            for (const std::uint32_t want = 1 + rng() % (run_queue::capacity / 2 - 1); count < want && next < tokens;)
                batch[count++] = &all[next++];
            if (rng() % 2 == 0) {
                queue->push_batch(batch, count);
            } else {
                queue->push_batch_reversed(batch, count);
            }
            tick();
        }
        const std::uint32_t pushes = 1 + rng() % 48;
        for (std::uint32_t i = 0; i < pushes && next < tokens; ++i) {
            while (!queue->push(handle_of(all[next]))) {
                if (queue->take_half(half))
                    for (void* task : half)
                        mark(task);  // the overflow's taker
            }
            ++next;
            tick();
        }
        const std::uint32_t pops = 1 + rng() % 48;
        for (std::uint32_t i = 0; i < pops; ++i)
            if (!pop_one()) break;
    }
    while (pop_one()) {
    }
    // A light steal may still be settling the last claim: a pop then waits for it, and an
    // empty queue stays empty. Pop until the thieves have stopped and nothing is left.
    done.store(true, std::memory_order_release);
    for (auto& thread : threads)
        thread.join();
    while (pop_one()) {
    }
    result.stolen = stolen.load();
    for (std::size_t i = 0; i < tokens; ++i) {
        const int count = all[i].taken.load(std::memory_order_relaxed);
        if (count != 1) {
            if (result.wrong == 0) {
                result.first_wrong = i;
                result.first_wrong_count = count;
            }
            ++result.wrong;
        }
    }
    return result;
}

std::atomic<bool> g_claimed{false};

// A thief descheduled between its claim and its reads, for 20 ms.
void stall_after_claim() {
    g_claimed.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

TEST_SUITE("run_queue stress") {
    TEST_CASE("a thief stalled inside a light steal loses no task while the owner refills its queue") {
        if (!weft::detail::heavy_barrier_available()) return;  // no light protocol (TSan)
        constexpr std::size_t tokens = 20'000;
        std::vector<token> all(tokens);
        auto queue = std::make_unique<run_queue>(true, true);
        for (std::uint32_t i = 0; i <= run_queue::quiet_ticks_for_light; ++i)
            queue->adapt_to_thieves();
        REQUIRE(queue->light());
        std::size_t next = 0;
        for (; next < 200; ++next)
            REQUIRE(queue->push(handle_of(all[next])));
        g_claimed = false;
        run_queue::after_light_claim_for_tests = stall_after_claim;
        std::thread thief([&] {
            void* out[run_queue::capacity / 2];
            const std::uint32_t n = queue->steal(out, run_queue::capacity / 2);
            for (std::uint32_t i = 0; i < n; ++i)
                mark(out[i]);
        });
        while (!g_claimed.load()) {
        }
        // The thief claimed the older 100 and sleeps. Empty the queue and refill it with
        // batches, again and again: the floor must keep the batches off the claimed slots
        // (here, by waiting for the steal to settle).
        void* batch[100];
        while (next < tokens) {
            while (auto task = queue->pop_newest())
                mark(task.address());
            std::uint32_t count = 0;
            while (count < 100 && next < tokens)
                batch[count++] = &all[next++];
            queue->push_batch(batch, count);
        }
        while (auto task = queue->pop_newest())
            mark(task.address());
        thief.join();
        run_queue::after_light_claim_for_tests = nullptr;
        while (auto task = queue->pop_newest())
            mark(task.address());
        std::size_t wrong = 0;
        for (auto& t : all)
            wrong += t.taken.load() != 1 ? 1 : 0;
        CHECK(wrong == 0);
    }

    TEST_CASE("every task is taken exactly once by the owner or a thief, under both pop protocols") {
        const std::size_t tokens = weft_test::scaled(2'000'000, 50'000);
        const bool light_possible = weft::detail::heavy_barrier_available();
        CAPTURE(tokens);
        CAPTURE(light_possible);
        std::size_t light_pops = 0;
        // Four thieves oversubscribe the 2-core machines: a thief is then sometimes
        // descheduled between its claim and its reads while the owner runs on.
        for (const unsigned thieves : {1u, 2u, 4u}) {
            for (std::uint32_t seed = 1; seed <= 3; ++seed) {
                // Thieves that come back at once keep the queue fenced; slower ones catch it light.
                const std::uint32_t max_pause = 16u << (4 * seed);
                CAPTURE(thieves);
                CAPTURE(seed);
                CAPTURE(max_pause);
                const outcome r = run_owner_and_thieves(tokens, thieves, seed, max_pause);
                CAPTURE(r.first_wrong);
                CAPTURE(r.first_wrong_count);
                CHECK(r.wrong == 0);
                CHECK(r.stolen > 0);       // thieves did take work
                CHECK(r.fenced_pops > 0);  // the queue went fenced after steals
                light_pops += r.light_pops;
            }
        }
        // Where membarrier works (not under TSan), the light protocol ran too.
        if (light_possible) CHECK(light_pops > 0);
    }
}
