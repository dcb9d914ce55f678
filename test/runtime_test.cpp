// Provides the doctest cases for weft::run and the runtime controls (include/weft/runtime.hpp):
// results, repeated runs, worker counts, WEFT_MAXPROCS, num_tasks, yield, shutdown, idling.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <sched.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

weft::task<int> forty_two() {
    co_return 42;
}
weft::task<> nothing() {
    co_return;
}
weft::task<int> fails() {
    co_await weft::yield();
    throw test_error("main task failed");
}
weft::task<std::string> concat(std::string a, std::string b) {
    co_return a + b;
}
weft::task<unsigned> report_maxprocs() {
    co_return weft::maxprocs();
}

unsigned usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return static_cast<unsigned>(CPU_COUNT(&set));
}

// ---- parallelism ---------------------------------------------------------------------

struct rendezvous {
    std::atomic<int> arrived{0};
    std::atomic<bool> timed_out{false};
    std::mutex lock;
    std::set<std::thread::id> threads;  // guarded by lock
};

// Spins (without yielding to weft) until `expected` tasks have arrived: only completes if
// that many tasks run at the same time on different workers.
weft::task<> arrive_and_spin(rendezvous& r, int expected, weft::wait_group& wg) {
    r.arrived.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (r.arrived.load() < expected) {
        if (std::chrono::steady_clock::now() > deadline) {
            r.timed_out.store(true);
            break;
        }
        std::this_thread::yield();
    }
    {
        const std::lock_guard<std::mutex> hold(r.lock);
        r.threads.insert(std::this_thread::get_id());
    }
    wg.done();
    co_return;
}

weft::task<unsigned> run_in_parallel(rendezvous& r, int n) {
    weft::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
        weft::go(arrive_and_spin, std::ref(r), n, std::ref(wg));
    co_await wg.wait();
    co_return weft::maxprocs();
}

// ---- num_tasks and shutdown ------------------------------------------------------------

weft::task<> park_forever(weft_test::probe p, weft::wait_group& never) {
    const weft_test::probe local{p};
    co_await never.wait();
}

weft::task<> park_then_done(weft::wait_group& gate) {
    co_await gate.wait();
}

weft::task<> spin_forever(weft_test::probe p, std::atomic<int>& started) {
    static_cast<void>(p);
    started.fetch_add(1);
    for (;;)
        co_await weft::yield();
}

weft::task<> parked_child(weft_test::probe p, weft::wait_group& never) {
    const weft_test::probe local{p};
    co_await never.wait();
}
weft::task<> parked_parent(weft_test::probe p, weft::wait_group& never) {
    const weft_test::probe local{p};
    co_await parked_child(p, never);
}

weft::task<int> joined_forever(weft_test::probe p, weft::wait_group& never) {
    const weft_test::probe local{p};
    co_await never.wait();
    co_return 0;
}
weft::task<> awaits_join_forever(weft_test::probe p, weft::wait_group& never, std::atomic<int>& spawned) {
    auto h = weft::spawn(joined_forever, p, std::ref(never));
    spawned.fetch_add(1);
    static_cast<void>(co_await h);
}

double process_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto seconds = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

TEST_SUITE("runtime") {
    TEST_CASE("run returns the main task's value") {
        CHECK(weft::run(forty_two) == 42);
        CHECK(weft::run([]() -> weft::task<int> { co_return co_await forty_two() + 1; }) == 43);
    }

    TEST_CASE("run accepts a void main task") {
        weft::run(nothing);
        CHECK(weft::num_tasks() == 0);
    }

    TEST_CASE("run decay-copies the main task's arguments") {
        std::string a = "con";
        const std::string result = weft::run(concat, a, std::string("cat"));
        CHECK(result == "concat");
    }

    TEST_CASE("run rethrows the main task's exception") {
        CHECK_THROWS_AS(weft::run(fails), test_error);
        CHECK_THROWS_WITH_AS(weft::run(weft::options{.workers = 2}, fails), "main task failed", test_error);
    }

    TEST_CASE("run may be called again after it returns, or after it threw") {
        for (unsigned i = 0; i < 6; ++i) {
            const unsigned workers = 1 + i % 3;
            CAPTURE(workers);
            const int v = weft::run(
                weft::options{.workers = workers},
                [](int round) -> weft::task<int> {
                    std::atomic<int> sum{0};
                    weft::wait_group wg;
                    for (int k = 0; k < 100; ++k) {
                        wg.go([&sum, k]() -> weft::task<> {
                            co_await weft::yield();
                            sum.fetch_add(k);
                        });
                    }
                    co_await wg.wait();
                    co_return sum.load() + round;
                },
                static_cast<int>(i));
            CHECK(v == 4950 + static_cast<int>(i));
            CHECK(weft::maxprocs() > 0);
            CHECK_THROWS_AS(weft::run(weft::options{.workers = workers}, fails), test_error);
        }
    }

    TEST_CASE("options.workers sets the number of workers, reported by maxprocs") {
        for (const unsigned workers : {1u, 2u, 3u}) {
            CAPTURE(workers);
            CHECK(weft::run(weft::options{.workers = workers}, report_maxprocs) == workers);
        }
    }

    TEST_CASE("options.workers = N runs N tasks at the same time on N threads") {
        for (const int workers : {2, 3}) {
            CAPTURE(workers);
            rendezvous r;
            const unsigned procs = weft::run(weft::options{.workers = static_cast<unsigned>(workers)}, run_in_parallel,
                                             std::ref(r), workers);
            CHECK(procs == static_cast<unsigned>(workers));
            CHECK_FALSE(r.timed_out.load());
            const std::lock_guard<std::mutex> hold(r.lock);
            CHECK(r.threads.size() == static_cast<std::size_t>(workers));
        }
    }

    TEST_CASE("WEFT_MAXPROCS sets the default worker count; options.workers beats it") {
        {
            const weft_test::env_guard env{"WEFT_MAXPROCS", "3"};
            CHECK(weft::maxprocs() == 3);  // what run() would start with
            CHECK(weft::run(report_maxprocs) == 3);
            CHECK(weft::run(weft::options{.workers = 2}, report_maxprocs) == 2);
            CHECK(weft::run(weft::options{.workers = 1}, report_maxprocs) == 1);
        }
        {
            const weft_test::env_guard env{"WEFT_MAXPROCS", "1"};
            CHECK(weft::run(report_maxprocs) == 1);
        }
        {
            const weft_test::env_guard env{"WEFT_MAXPROCS", std::nullopt};
            const unsigned procs = weft::run(report_maxprocs);
            CHECK(procs >= 1);
            CHECK(procs <= usable_cpus());
            CHECK(weft::maxprocs() == procs);
        }
    }

    TEST_CASE("num_tasks counts the main task and every live task") {
        struct outcome {
            std::size_t alone = 0;
            std::size_t with_parked = 0;
            std::size_t with_spawned = 0;
            std::size_t after = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome result;
            result.alone = weft::num_tasks();
            weft::wait_group gate;
            weft::wait_group finished;
            gate.add(1);
            for (int i = 0; i < 10; ++i)
                finished.go(park_then_done, std::ref(gate));
            result.with_parked = weft::num_tasks();  // counted from go's return, started or not
            auto h = weft::spawn(park_then_done, std::ref(gate));
            result.with_spawned = weft::num_tasks();
            gate.done();
            co_await h;
            co_await finished.wait();
            result.after = weft::num_tasks();
            co_return result;
        });
        CHECK(o.alone == 1);
        CHECK(o.with_parked == 11);
        CHECK(o.with_spawned == 12);
        CHECK(o.after == 1);
        CHECK(weft::num_tasks() == 0);
    }

    TEST_CASE("yield lets another task make progress on a one-worker runtime") {
        const long spins = weft::run(weft::options{.workers = 1}, []() -> weft::task<long> {
            std::atomic<bool> flag{false};
            weft::go(
                [](std::atomic<bool>& f) -> weft::task<> {
                    f.store(true);
                    co_return;
                },
                std::ref(flag));
            long n = 0;
            while (!flag.load() && n < 1'000'000) {
                co_await weft::yield();
                ++n;
            }
            co_return flag.load() ? n : -1;
        });
        CHECK(spins >= 1);  // the new task did not run inline in go
        CHECK(spins < 1'000'000);
    }

    TEST_CASE("a single yield runs the tasks already ready on this worker first") {
        const int ran = weft::run(weft::options{.workers = 1}, []() -> weft::task<int> {
            std::atomic<int> count{0};
            for (int i = 0; i < 3; ++i) {
                weft::go(
                    [](std::atomic<int>& c) -> weft::task<> {
                        c.fetch_add(1);
                        co_return;
                    },
                    std::ref(count));
            }
            co_await weft::yield();
            co_return count.load();
        });
        CHECK(ran == 3);
    }

    TEST_CASE("a queued task is not starved by newer tasks that keep spawning on one worker") {
        // The local queue runs newest first; without its fairness rule the rival, queued
        // first, would wait behind the relay forever.
        static constexpr long hop_limit = 50'000'000;  // reached only if the rival starves
        const long hops = weft::run(weft::options{.workers = 1}, []() -> weft::task<long> {
            weft_test::spawn_relay relay{hop_limit};
            weft::go(weft_test::spawn_relay::rival, std::ref(relay));  // queued first: the oldest
            weft::go(weft_test::spawn_relay::hop, std::ref(relay));
            co_await relay.finished.wait();
            co_return relay.outcome();
        });
        CHECK(hops > 0);  // the relay ran first: newest first
        CHECK(hops < hop_limit);
    }

    TEST_CASE("tasks parked when the main task returns are destroyed before run returns") {
        for (const unsigned workers : {1u, 3u}) {
            CAPTURE(workers);
            std::atomic<long> live{0};
            weft::wait_group never;  // outlives run; never reaches zero
            never.add(1);
            const std::size_t counted = weft::run(
                weft::options{.workers = workers},
                [](std::atomic<long>& l, weft::wait_group& n) -> weft::task<std::size_t> {
                    std::atomic<int> spawned{0};
                    for (int i = 0; i < 100; ++i)
                        weft::go(park_forever, weft_test::probe{l}, std::ref(n));
                    for (int i = 0; i < 10; ++i)
                        weft::go(parked_parent, weft_test::probe{l}, std::ref(n));
                    for (int i = 0; i < 10; ++i)
                        weft::go(awaits_join_forever, weft_test::probe{l}, std::ref(n), std::ref(spawned));
                    for (int i = 0; i < 100'000 && spawned.load() < 10; ++i)
                        co_await weft::yield();
                    for (int i = 0; i < 20; ++i)
                        co_await weft::yield();
                    co_return weft::num_tasks();
                },
                std::ref(live), std::ref(never));
            CHECK(counted == 1 + 100 + 10 + 10 + 10);
            CHECK(live.load() == 0);
            CHECK(weft::num_tasks() == 0);
            CHECK(never.count() == 1);
        }
    }

    TEST_CASE("tasks parked on a wait_group local to the main task are destroyed at shutdown") {
        // One worker, so that when the main task returns every task that started is fully
        // parked. With two, a task could still be entering wait() on the other worker while
        // the group dies: a use of a destroyed object (docs/pitfalls.md, section 1), which
        // TSan reported here once.
        std::atomic<long> live{0};
        std::atomic<int> parking{0};
        weft::run(
            weft::options{.workers = 1},
            [](std::atomic<long>& l, std::atomic<int>& p) -> weft::task<> {
                weft::wait_group never;  // destroyed with the main task, before the parked tasks
                never.add(1);
                for (int i = 0; i < 50; ++i) {
                    weft::go(
                        [](weft_test::probe, weft::wait_group& n, std::atomic<int>& parked) -> weft::task<> {
                            parked.fetch_add(1);
                            co_await n.wait();
                        },
                        weft_test::probe{l}, std::ref(never), std::ref(p));
                }
                for (int i = 0; i < 1000 && p.load() < 50; ++i)
                    co_await weft::yield();
            },
            std::ref(live), std::ref(parking));
        CHECK(parking.load() == 50);
        CHECK(live.load() == 0);
    }

    TEST_CASE("tasks not yet started when the main task returns are destroyed with their arguments") {
        std::atomic<long> live{0};
        std::atomic<int> started{0};
        weft::wait_group never;
        never.add(1);
        weft::run(
            weft::options{.workers = 1},
            [](std::atomic<long>& l, std::atomic<int>& s, weft::wait_group& n) -> weft::task<> {
                for (int i = 0; i < 100; ++i)
                    weft::go(spin_forever, weft_test::probe{l}, std::ref(s));
                for (int i = 0; i < 100; ++i)
                    weft::go(park_forever, weft_test::probe{l}, std::ref(n));
                co_return;  // one worker, no suspension: none of them has started
            },
            std::ref(live), std::ref(started), std::ref(never));
        CHECK(started.load() == 0);
        CHECK(live.load() == 0);
        CHECK(weft::num_tasks() == 0);
    }

    TEST_CASE("tasks still running (yielding in a loop) when the main task returns are destroyed") {
        std::atomic<long> live{0};
        std::atomic<int> started{0};
        weft::run(
            weft::options{.workers = 3},
            [](std::atomic<long>& l, std::atomic<int>& s) -> weft::task<> {
                for (int i = 0; i < 50; ++i)
                    weft::go(spin_forever, weft_test::probe{l}, std::ref(s));
                for (int i = 0; i < 1000 && s.load() < 50; ++i)
                    co_await weft::yield();
            },
            std::ref(live), std::ref(started));
        CHECK(started.load() > 0);
        CHECK(live.load() == 0);
        CHECK(weft::num_tasks() == 0);
    }

    TEST_CASE("run called from inside a task throws std::logic_error") {
        const bool threw = weft::run([]() -> weft::task<bool> {
            bool caught = false;
            try {
                weft::run(nothing);
            } catch (const std::logic_error&) {
                caught = true;
            }
            co_return caught;
        });
        CHECK(threw);
    }

    TEST_CASE("a runtime with nothing to do uses under 5% of one core") {
        struct usage {
            double cpu = 0;
            double wall = 0;
        };
        const usage u = weft::run(weft::options{.workers = 4}, []() -> weft::task<usage> {
            weft::wait_group wg;
            wg.add(1);
            const double cpu_before = process_cpu_seconds();
            const auto wall_before = std::chrono::steady_clock::now();
            std::thread releaser([&wg] {
                std::this_thread::sleep_for(1s);
                wg.done();  // done() from a thread that is not a worker
            });
            co_await wg.wait();
            usage result;
            result.cpu = process_cpu_seconds() - cpu_before;
            result.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
            releaser.join();
            co_return result;
        });
        CAPTURE(u.cpu);
        CAPTURE(u.wall);
        CHECK(u.wall >= 0.95);
        CHECK(u.cpu < 0.05 * u.wall);
    }

}  // TEST_SUITE("runtime")
