// Provides the runtime stress tests: racy scenarios (run start/stop with work in flight,
// spawn/join trees, dropped join_handles, shutdown racing go, tasks stolen between workers)
// repeated many times.
// Sized by WEFT_TEST_SCALE like the unit tests.
#include <weft/weft.hpp>

#include "../test_support.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A tiny deterministic generator (splitmix64), so each iteration's shape is reproducible.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// ---- spawn/join trees ------------------------------------------------------------------

// Returns the number of leaves below (and including) this node. Children are awaited in an
// order and with yields chosen by `seed`, so some handles are awaited before their task
// finished and some after.
weft::task<std::int64_t> spawn_tree(int depth, int fanout, std::uint64_t seed) {
    if (depth == 0) {
        if (seed % 3 == 0) co_await weft::yield();
        co_return 1;
    }
    std::vector<weft::join_handle<std::int64_t>> children;
    children.reserve(static_cast<std::size_t>(fanout));
    for (int i = 0; i < fanout; ++i)
        children.push_back(weft::spawn(spawn_tree, depth - 1, fanout, mix(seed + static_cast<std::uint64_t>(i))));
    const int yields = static_cast<int>(seed % 4);
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
    std::int64_t leaves = 0;
    const bool reverse = (seed >> 8) % 2 == 1;
    for (int i = 0; i < fanout; ++i) {
        auto& child = children[static_cast<std::size_t>(reverse ? fanout - 1 - i : i)];
        leaves += co_await child;
    }
    co_return leaves;
}

std::int64_t power(std::int64_t base, int exponent) {
    std::int64_t r = 1;
    for (int i = 0; i < exponent; ++i)
        r *= base;
    return r;
}

// ---- work left in flight at shutdown ---------------------------------------------------

weft::task<> short_lived(weft_test::probe p) {
    static_cast<void>(p);
    co_await weft::yield();
}

// Keeps starting new tasks until shutdown destroys it: go() races the main task's end.
weft::task<> keep_spawning(weft_test::probe p) {
    for (;;) {
        weft::go(short_lived, p);
        co_await weft::yield();
    }
}

weft::task<> spin_forever(weft_test::probe p) {
    static_cast<void>(p);
    for (;;)
        co_await weft::yield();
}

weft::task<> park_forever(weft_test::probe p, weft::wait_group& never) {
    static_cast<void>(p);
    co_await never.wait();
}

struct cycle_result {
    std::int64_t leaves = 0;
    std::size_t tasks_seen = 0;
};

weft::task<cycle_result> busy_main(std::atomic<long>& live, weft::wait_group& never, std::uint64_t seed) {
    cycle_result result;
    const int spinners = 2 + static_cast<int>(seed % 4);
    for (int i = 0; i < spinners; ++i)
        weft::go(spin_forever, weft_test::probe{live});
    for (int i = 0; i < 2; ++i)
        weft::go(keep_spawning, weft_test::probe{live});
    for (int i = 0; i < 20; ++i)
        weft::go(park_forever, weft_test::probe{live}, std::ref(never));
    auto tree = weft::spawn(spawn_tree, 3, 4, seed);
    result.leaves = co_await tree;
    result.tasks_seen = weft::num_tasks();
    co_return result;  // everything else is still running or parked
}

// ---- dropped handles -------------------------------------------------------------------

class done_on_destroy {
public:
    explicit done_on_destroy(weft::wait_group& wg) noexcept : wg_(&wg) {}
    done_on_destroy(done_on_destroy&& other) noexcept : wg_(std::exchange(other.wg_, nullptr)) {}
    done_on_destroy(const done_on_destroy&) = delete;
    done_on_destroy& operator=(const done_on_destroy&) = delete;
    done_on_destroy& operator=(done_on_destroy&&) = delete;
    ~done_on_destroy() {
        if (wg_ != nullptr) wg_->done();
    }

private:
    weft::wait_group* wg_;
};

weft::task<int> maybe_throw(done_on_destroy signal, int yields, bool fail) {
    static_cast<void>(signal);
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
    if (fail) throw test_error("dropped and failed");
    co_return 1;
}

weft::task<std::int64_t> drop_handles(int n, std::uint64_t seed, std::atomic<int>& collected) {
    weft::wait_group frames;
    frames.add(n);
    std::int64_t joined = 0;
    for (int i = 0; i < n; ++i) {
        const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(i));
        const bool fail = r % 5 == 0;
        auto h = weft::spawn(maybe_throw, done_on_destroy{frames}, static_cast<int>(r % 3), fail);
        const int yields_before_drop = static_cast<int>((r >> 4) % 3);
        for (int k = 0; k < yields_before_drop; ++k)
            co_await weft::yield();
        if (!fail && (r >> 8) % 2 == 0) {
            joined += co_await h;  // joined; the others are dropped here, finished or not
        }
    }
    co_await frames.wait();  // every frame freed exactly once
    collected.fetch_add(1);
    co_return joined;
}

// ---- work stealing: every task runs exactly once ---------------------------------------

constexpr std::size_t tasks_per_round = 4;

// `steps` steps of work the compiler cannot drop. A plain function: g++ 12 keeps a coroutine's
// locals in its frame without their volatile, and folded this loop away inside mark_ran.
void busy_work(unsigned steps) {
    volatile unsigned counter = 0;
    for (unsigned i = 0; i < steps; ++i)
        counter = counter + 1;
}

// Busy for `spin` steps, then marks its own counter; wait_group::go calls done() once it has
// returned.
weft::task<> mark_ran(std::atomic<int>& ran, unsigned spin) {
    busy_work(spin);
    ran.fetch_add(1, std::memory_order_relaxed);
    co_return;
}

// Steps of busy work per task, chosen per round: with none the owner usually runs all four
// before a woken worker arrives; with some, thieves take tasks while the owner still pops.
constexpr unsigned spins[] = {0, 64, 512, 2048};

struct once_result {
    std::size_t wrong_rounds = 0;  // rounds after which some counter was not exactly 1
    std::size_t first_wrong_round = 0;
    std::array<int, tasks_per_round> first_wrong_counts{};
    std::size_t rounds_with_tasks_left = 0;  // rounds after which num_tasks() was not 1
    std::size_t first_tasks_left = 0;        // num_tasks() after the first such round
};

// Each round starts tasks_per_round tasks on this worker's run queue, where the other workers
// steal them while this task parks in wait(); each task marks its own counter. After the wait
// every counter must be exactly 1 (0: a task lost; 2: a task run twice, say from a slot taken by
// both its owner and a thief) and only the main task may be left. The wait's acquire orders the
// tasks' increments before the loads.
weft::task<once_result> run_each_once(std::size_t rounds) {
    once_result result;
    std::array<std::atomic<int>, tasks_per_round> ran{};
    for (std::size_t round = 0; round < rounds; ++round) {
        for (auto& r : ran)
            r.store(0, std::memory_order_relaxed);
        const unsigned spin = spins[mix(round) % std::size(spins)];
        weft::wait_group wg;
        for (auto& r : ran)
            wg.go(mark_ran, std::ref(r), spin);
        co_await wg.wait();
        std::array<int, tasks_per_round> counts{};
        bool wrong = false;
        for (std::size_t i = 0; i < tasks_per_round; ++i) {
            counts[i] = ran[i].load(std::memory_order_relaxed);
            wrong = wrong || counts[i] != 1;
        }
        if (wrong) {
            if (result.wrong_rounds == 0) {
                result.first_wrong_round = round;
                result.first_wrong_counts = counts;
            }
            ++result.wrong_rounds;
        }
        const std::size_t tasks = weft::num_tasks();
        if (tasks != 1) {
            if (result.rounds_with_tasks_left == 0) result.first_tasks_left = tasks;
            ++result.rounds_with_tasks_left;
        }
    }
    co_return result;
}

// ---- light joins: the remote halves (lib/sched/join.cpp) -------------------------------

weft::task<std::int64_t> after_yields(std::int64_t value, int yields, weft_test::probe p) {
    static_cast<void>(p);
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
    co_return value;
}

weft::task<std::int64_t> local_leaf(std::int64_t value) {
    co_return value;
}

// Round after round: first enough local spawn/joins that the worker turns light joins back
// on (they go off for a while after each remote half), then one task whose finish and join
// may each land on either worker: both yield through the injection queue a random number
// of times first, so the finisher or the joiner (or dropper) is sometimes away from the
// task's home worker while the other party is there, deciding. Returns the sum of values.
weft::task<std::int64_t> cross_worker_joins(int rounds, std::uint64_t seed, std::atomic<long>& live) {
    std::int64_t sum = 0;
    for (int round = 0; round < rounds; ++round) {
        for (int k = 0; k < 40; ++k)
            sum += co_await weft::spawn(local_leaf, 0);
        const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(round));
        auto h = weft::spawn(after_yields, std::int64_t{round}, static_cast<int>(r % 3), weft_test::probe{live});
        for (int i = 0; i < static_cast<int>((r >> 4) % 3); ++i)
            co_await weft::yield();
        if ((r >> 8) % 4 != 0) {
            sum += co_await h;
        } else {
            h = {};  // dropped, finished or not
        }
    }
    co_return sum;
}

}  // namespace

TEST_SUITE("runtime stress") {
    TEST_CASE("joins and drops racing the task's finish across two workers give each value once and free each frame") {
        const std::size_t iterations = weft_test::scaled(2'000, 20);
        const int rounds = 500;
        CAPTURE(iterations);
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const std::uint64_t seed = mix(i * 31 + 7);
            std::int64_t expected = 0;
            for (int round = 0; round < rounds; ++round)
                if ((mix(seed + static_cast<std::uint64_t>(round)) >> 8) % 4 != 0) expected += round;
            std::atomic<long> live{0};
            const std::int64_t sum =
                weft::run(weft::options{.workers = 2}, cross_worker_joins, rounds, seed, std::ref(live));
            REQUIRE(sum == expected);
            REQUIRE(live.load() == 0);  // every task's frame destroyed, the dropped ones too
        }
    }

    TEST_CASE("run start/stop cycles with tasks running, parked and spawning when main returns") {
        const std::size_t iterations = weft_test::scaled(20'000, 20);
        CAPTURE(iterations);
        std::size_t tasks_left_after_run = 0;  // iterations where num_tasks() was not 0 after run
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const unsigned workers = 2 + static_cast<unsigned>(i % 3);
            std::atomic<long> live{0};
            weft::wait_group never;
            never.add(1);
            const cycle_result r =
                weft::run(weft::options{.workers = workers}, busy_main, std::ref(live), std::ref(never), mix(i));
            REQUIRE(r.leaves == 64);
            REQUIRE(r.tasks_seen >= 1 + 20);
            REQUIRE(live.load() == 0);
            if (weft::num_tasks() != 0) ++tasks_left_after_run;
        }
        CHECK(tasks_left_after_run == 0);
    }

    TEST_CASE("spawn/join trees on 2 to 4 workers give the right leaf count") {
        const std::size_t iterations = weft_test::scaled(10'000, 10);
        CAPTURE(iterations);
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const unsigned workers = 2 + static_cast<unsigned>(i % 3);
            const int depth = 3 + static_cast<int>(i % 3);
            const std::int64_t leaves =
                weft::run(weft::options{.workers = workers}, spawn_tree, depth, 5, mix(i * 7 + 1));
            REQUIRE(leaves == power(5, depth));
        }
    }

    TEST_CASE("join_handles dropped before or after their task finished free each frame once") {
        const std::size_t iterations = weft_test::scaled(10'000, 10);
        CAPTURE(iterations);
        std::atomic<int> panics{0};
        const weft_test::panic_handler_guard guard{[&panics](std::exception_ptr) { panics.fetch_add(1); }};
        int expected_panics = 0;
        for (std::size_t i = 0; i < iterations; ++i) {
            CAPTURE(i);
            const unsigned workers = 2 + static_cast<unsigned>(i % 3);
            const std::uint64_t seed = mix(i * 13 + 5);
            std::atomic<int> collected{0};
            const int n = 100;
            std::int64_t expect_joined = 0;
            for (int k = 0; k < n; ++k) {
                const std::uint64_t r = mix(seed + static_cast<std::uint64_t>(k));
                if (r % 5 == 0)
                    ++expected_panics;
                else if ((r >> 8) % 2 == 0)
                    ++expect_joined;
            }
            const std::int64_t joined =
                weft::run(weft::options{.workers = workers}, drop_handles, n, seed, std::ref(collected));
            REQUIRE(collected.load() == 1);
            REQUIRE(joined == expect_joined);
            REQUIRE(panics.load() == expected_panics);
        }
    }

    TEST_CASE("tasks stolen between 2, 3 and 4 workers each run exactly once, round after round") {
        const std::size_t rounds = weft_test::scaled(500'000, 100);
        CAPTURE(rounds);
        for (const unsigned workers : {2u, 3u, 4u}) {
            CAPTURE(workers);
            const once_result r = weft::run(weft::options{.workers = workers}, run_each_once, rounds);
            CAPTURE(r.first_wrong_round);
            CAPTURE(r.first_wrong_counts[0]);
            CAPTURE(r.first_wrong_counts[1]);
            CAPTURE(r.first_wrong_counts[2]);
            CAPTURE(r.first_wrong_counts[3]);
            CHECK(r.wrong_rounds == 0);
            CAPTURE(r.first_tasks_left);
            CHECK(r.rounds_with_tasks_left == 0);
            CHECK(weft::num_tasks() == 0);
        }
    }

}  // TEST_SUITE("runtime stress")
