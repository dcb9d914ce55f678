// Provides the wait_group stress tests: many waiters released from another std::thread,
// groups destroyed right after wait, add/done racing from workers and plain threads.
// Sized by WEFT_TEST_SCALE like the unit tests.
#include <weft/weft.hpp>

#include "../test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

namespace {

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

weft::task<> wait_then_count(weft::wait_group& gate, std::atomic<int>& released) {
    co_await gate.wait();
    released.fetch_add(1, std::memory_order_relaxed);
}

struct release_outcome {
    int released = 0;
    std::int64_t gate_count = -1;
};

// `waiters` tasks wait on a gate that a plain std::thread releases after `delay_us`
// (possibly while they are still arriving); the main task waits on the gate too.
weft::task<release_outcome> released_from_thread(int waiters, int delay_us) {
    weft::wait_group gate;
    weft::wait_group all;
    std::atomic<int> released{0};
    gate.add(1);
    std::thread releaser([&gate, delay_us] {
        if (delay_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
        gate.done();
    });
    for (int i = 0; i < waiters; ++i)
        all.go(wait_then_count, std::ref(gate), std::ref(released));
    co_await gate.wait();
    co_await all.wait();
    releaser.join();
    release_outcome result;
    result.released = released.load();
    result.gate_count = gate.count();
    co_return result;
}

weft::task<> done_on(weft::wait_group* wg, int yields) {
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
    wg->done();
}

// Each round: a heap group, done() by tasks on other workers and by a plain thread, deleted
// the moment wait returns.
weft::task<int> destroy_after_wait(int rounds, std::uint64_t seed) {
    std::atomic<weft::wait_group*> mailbox{nullptr};  // the helper thread calls done() on it
    std::atomic<bool> quit{false};
    std::thread helper([&mailbox, &quit] {
        while (!quit.load()) {
            if (weft::wait_group* posted = mailbox.exchange(nullptr))
                posted->done();
            else
                std::this_thread::yield();
        }
    });
    int completed = 0;
    for (int i = 0; i < rounds; ++i) {
        const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(i));
        auto* wg = new weft::wait_group;
        const int tasks = static_cast<int>(r % 4);
        const bool from_thread = tasks == 0 || (r >> 8) % 2 == 0;
        wg->add(tasks + (from_thread ? 1 : 0));
        for (int k = 0; k < tasks; ++k)
            weft::go(done_on, wg, static_cast<int>((r >> (12 + k)) % 2));
        if (from_thread) mailbox.store(wg);
        co_await wg->wait();
        delete wg;
        ++completed;
    }
    quit.store(true);
    helper.join();
    co_return completed;
}

weft::task<> add_and_done(weft::wait_group& wg, int times) {
    for (int i = 0; i < times; ++i) {
        wg.add(1);
        if (i % 8 == 0) co_await weft::yield();
        wg.done();
    }
}

}  // namespace

TEST_SUITE("wait_group stress") {
    TEST_CASE("many waiters released by done() from a plain std::thread") {
        const std::size_t iterations = weft_test::scaled(2000, 10);
        CAPTURE(iterations);
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const unsigned workers = 2 + static_cast<unsigned>(i % 3);
            const int waiters = 200 + static_cast<int>(mix(i) % 300);
            const int delay_us = static_cast<int>(mix(i + 1000) % 500);
            const release_outcome o =
                weft::run(weft::options{.workers = workers}, released_from_thread, waiters, delay_us);
            REQUIRE(o.released == waiters);
            REQUIRE(o.gate_count == 0);
        }
    }

    TEST_CASE("wait_groups deleted right after wait returns, done() racing from workers and threads") {
        const std::size_t iterations = weft_test::scaled(100, 4);
        const int rounds = static_cast<int>(weft_test::scaled(2000, 100));
        CAPTURE(iterations);
        CAPTURE(rounds);
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const unsigned workers = 2 + static_cast<unsigned>(i % 3);
            const int completed = weft::run(weft::options{.workers = workers}, destroy_after_wait, rounds, mix(i));
            REQUIRE(completed == rounds);
        }
    }

    TEST_CASE("add and done racing on one group from many tasks end at zero") {
        const std::size_t iterations = weft_test::scaled(1000, 5);
        CAPTURE(iterations);
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const unsigned workers = 2 + static_cast<unsigned>(i % 3);
            const std::int64_t left = weft::run(weft::options{.workers = workers}, []() -> weft::task<std::int64_t> {
                weft::wait_group shared;
                weft::wait_group all;
                for (int k = 0; k < 64; ++k)
                    all.go(add_and_done, std::ref(shared), 200);
                co_await all.wait();
                co_await shared.wait();
                co_return shared.count();
            });
            REQUIRE(left == 0);
        }
    }

}  // TEST_SUITE("wait_group stress")
