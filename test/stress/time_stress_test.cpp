// Provides the timer stress tests: stop and reset racing the wheel firing on another worker
// (every arming is received or prevented, exactly once), tickers stopped mid-tick, context
// deadlines racing cancel and destruction, and many tasks waiting in every way at once;
// each on 1, 2 and 4 workers. Sized by WEFT_TEST_SCALE like the unit tests.
#include <weft/weft.hpp>

#include "../test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;
using time_point = steady::time_point;

constexpr unsigned worker_counts[] = {1, 2, 4};

// A tiny deterministic generator (splitmix64), so each task's choices are reproducible.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// 0 to `max_us` microseconds, from `seed`.
std::chrono::microseconds small_delay(std::uint64_t seed, std::uint64_t max_us) {
    return std::chrono::microseconds(static_cast<std::int64_t>(mix(seed) % (max_us + 1)));
}

// ---- stop and reset racing the wheel ------------------------------------------------------

struct arming_tally {
    std::atomic<std::int64_t> armings{0};    // the constructor and every reset
    std::atomic<std::int64_t> prevented{0};  // stop/reset calls that returned true
    std::atomic<std::int64_t> received{0};
    std::atomic<std::int64_t> stale_after_stop{0};
};

weft::task<> receive_until_quit(weft::recv_chan<time_point> c, weft::chan<bool> quit, arming_tally& tally) {
    for (;;) {
        auto r = co_await weft::select(weft::recv(c), weft::recv(quit));
        if (r.index() == 1) break;
        if (std::get<0>(r)) tally.received.fetch_add(1, std::memory_order_relaxed);
    }
}

// Arms one timer again and again while a receiver takes its values; at the end, after the
// last stop, every arming must have been received or prevented exactly once.
weft::task<> race_one_timer(std::uint64_t seed, int rounds, arming_tally& tally) {
    weft::timer t(small_delay(seed, 300));
    tally.armings.fetch_add(1, std::memory_order_relaxed);
    auto quit = weft::make_chan<bool>();
    weft::wait_group wg;
    wg.go(receive_until_quit, t.c(), quit, std::ref(tally));
    for (int i = 0; i < rounds; ++i) {
        const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(i));
        switch (r % 4) {
            case 0:
            case 1:
                if (t.reset(small_delay(r >> 8, 300))) tally.prevented.fetch_add(1, std::memory_order_relaxed);
                tally.armings.fetch_add(1, std::memory_order_relaxed);
                break;
            case 2:
                if (t.stop()) tally.prevented.fetch_add(1, std::memory_order_relaxed);
                // After stop returns nothing may arrive: the receiver may still be running, so
                // only a value taken here, by us, would prove a stale delivery.
                if (t.c().try_recv()) tally.stale_after_stop.fetch_add(1, std::memory_order_relaxed);
                break;
            default:
                break;
        }
        if ((r >> 16) % 3 == 0) {
            co_await weft::yield();
        } else {
            co_await weft::sleep_for(small_delay(r >> 24, 200));
        }
    }
    if (t.stop()) tally.prevented.fetch_add(1, std::memory_order_relaxed);
    quit.close();
    co_await wg.wait();
}

// ---- tickers stopped mid-tick -------------------------------------------------------------

weft::task<> stop_ticker_repeatedly(std::uint64_t seed, int rounds, std::atomic<std::int64_t>& stale) {
    weft::ticker t(1ns);
    for (int i = 0; i < rounds; ++i) {
        const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(i));
        co_await weft::sleep_for(small_delay(r, 300));  // ticks pile up (one is kept)
        t.stop();
        if (t.c().try_recv()) stale.fetch_add(1, std::memory_order_relaxed);
        co_await weft::sleep_for(small_delay(r >> 12, 300));  // a fire in flight would land now
        if (t.c().try_recv()) stale.fetch_add(1, std::memory_order_relaxed);
        t.reset(std::chrono::nanoseconds(1 + static_cast<std::int64_t>((r >> 24) % 200'000)));
    }
    t.stop();
}

// ---- context deadlines racing cancel and destruction --------------------------------------

struct deadline_tally {
    std::atomic<std::int64_t> waited{0};
    std::atomic<std::int64_t> wrong{0};
};

weft::task<> churn_deadlines(weft::context parent, std::uint64_t seed, int rounds, deadline_tally& tally) {
    for (int i = 0; i < rounds; ++i) {
        const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(i));
        auto [ctx, cancel] = weft::with_timeout(parent, small_delay(r, 400));
        switch ((r >> 20) % 4) {
            case 0:  // dropped at once, the deadline still armed
                break;
            case 1:  // cancelled around the deadline
                co_await weft::sleep_for(small_delay(r >> 8, 400));
                cancel();
                break;
            case 2: {  // a child with its own later deadline, dropped while the parent fires
                auto child = weft::with_timeout(ctx, small_delay(r >> 12, 800));
                co_await weft::sleep_for(small_delay(r >> 30, 400));
                break;
            }
            default: {  // waited for
                const std::error_code e = co_await ctx.wait();
                tally.waited.fetch_add(1, std::memory_order_relaxed);
                if (e != weft::errc::deadline_exceeded && e != weft::errc::canceled)
                    tally.wrong.fetch_add(1, std::memory_order_relaxed);
                break;
            }
        }
    }
}

// ---- many waits at once -------------------------------------------------------------------

struct wait_tally {
    std::atomic<std::int64_t> done{0};
    std::atomic<std::int64_t> early{0};
    std::atomic<std::int64_t> missing{0};
};

weft::task<> wait_many_ways(std::uint64_t seed, int rounds, wait_tally& tally) {
    for (int i = 0; i < rounds; ++i) {
        const std::uint64_t r = mix(seed * 31 + static_cast<std::uint64_t>(i));
        // Up to 70 ms: deadlines land on wheel levels 0 and 1 and cascade.
        const auto d = small_delay(r, 70'000);
        const time_point start = steady::now();
        switch ((r >> 40) % 5) {
            case 0:
                co_await weft::sleep_for(d);
                break;
            case 1: {
                const auto c = weft::after(d);
                if (!co_await c.recv()) tally.missing.fetch_add(1);
                break;
            }
            case 2: {
                weft::timer t(d);
                if (!co_await t.c().recv()) tally.missing.fetch_add(1);
                break;
            }
            case 3: {  // a far timer, stopped: exercises the upper levels
                weft::timer far(std::chrono::hours(1 + static_cast<std::int64_t>(r % 5000)));
                co_await weft::sleep_for(d / 10);
                if (!far.stop()) tally.missing.fetch_add(1);
                co_await weft::sleep_for(d - d / 10);
                break;
            }
            default: {
                auto [ctx, cancel] = weft::with_timeout(weft::background(), d);
                const std::error_code e = co_await weft::sleep_for(1h, ctx);
                if (e != weft::errc::deadline_exceeded) tally.missing.fetch_add(1);
                break;
            }
        }
        if (steady::now() - start < d) tally.early.fetch_add(1);
        tally.done.fetch_add(1);
    }
}

}  // namespace

TEST_SUITE("time stress") {
    TEST_CASE("timer stop and reset racing the wheel: every arming is received or prevented, exactly once") {
        const std::size_t timers = 64;
        const int rounds = static_cast<int>(weft_test::scaled(2000, 100));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            arming_tally tally;
            weft::run(
                weft::options{.workers = workers},
                [](std::size_t n, int r, arming_tally& t) -> weft::task<> {
                    weft::wait_group wg;
                    for (std::size_t i = 0; i < n; ++i)
                        wg.go(race_one_timer, mix(i + 1), r, std::ref(t));
                    co_await wg.wait();
                },
                timers, rounds, std::ref(tally));
            CHECK(tally.armings.load() == tally.received.load() + tally.prevented.load());
            CHECK(tally.stale_after_stop.load() == 0);
            MESSAGE("workers " << workers << ": " << tally.armings.load() << " armings, " << tally.received.load()
                               << " received, " << tally.prevented.load() << " prevented");
        }
    }

    TEST_CASE("a ticker stopped while its ticks fire on other workers delivers nothing after stop returns") {
        const std::size_t tickers = 32;
        const int rounds = static_cast<int>(weft_test::scaled(1000, 50));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            std::atomic<std::int64_t> stale{0};
            weft::run(
                weft::options{.workers = workers},
                [](std::size_t n, int r, std::atomic<std::int64_t>& s) -> weft::task<> {
                    weft::wait_group wg;
                    for (std::size_t i = 0; i < n; ++i)
                        wg.go(stop_ticker_repeatedly, mix(i + 7), r, std::ref(s));
                    co_await wg.wait();
                },
                tickers, rounds, std::ref(stale));
            CHECK(stale.load() == 0);
        }
    }

    TEST_CASE("context deadlines racing cancel, waiters and the contexts' destruction") {
        const std::size_t tasks = 64;
        const int rounds = static_cast<int>(weft_test::scaled(2000, 100));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            deadline_tally tally;
            weft::run(
                weft::options{.workers = workers},
                [](std::size_t n, int r, deadline_tally& t) -> weft::task<> {
                    auto [parent, cancel] = weft::with_cancel(weft::background());
                    weft::wait_group wg;
                    for (std::size_t i = 0; i < n; ++i)
                        wg.go(churn_deadlines, parent, mix(i + 3), r, std::ref(t));
                    co_await wg.wait();
                    cancel();
                },
                tasks, rounds, std::ref(tally));
            CHECK(tally.wrong.load() == 0);
            CHECK(tally.waited.load() > 0);
        }
    }

    TEST_CASE("thousands of tasks sleeping, timing and timing out at once: none early, none lost") {
        const std::size_t tasks = weft_test::scaled(5000, 200);
        const int rounds = 10;
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            wait_tally tally;
            weft::run(
                weft::options{.workers = workers},
                [](std::size_t n, int r, wait_tally& t) -> weft::task<> {
                    weft::wait_group wg;
                    for (std::size_t i = 0; i < n; ++i)
                        wg.go(wait_many_ways, mix(i + 11), r, std::ref(t));
                    co_await wg.wait();
                },
                tasks, rounds, std::ref(tally));
            CHECK(tally.done.load() == static_cast<std::int64_t>(tasks) * rounds);
            CHECK(tally.early.load() == 0);
            CHECK(tally.missing.load() == 0);
        }
    }

}  // TEST_SUITE("time stress")
