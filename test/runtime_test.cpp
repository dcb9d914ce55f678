// Provides the doctest cases for weft::run and the runtime controls (include/weft/runtime.hpp):
// results, repeated runs, worker counts, WEFT_MAXPROCS, num_tasks, yield, shutdown, idling,
// free_os_memory.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <sched.h>
#include <sys/resource.h>

#include <array>
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

// ---- memory returned to the OS ---------------------------------------------------------

weft::task<> park_on_gate(weft::wait_group& parked, weft::wait_group& gate) {
    parked.done();
    co_await gate.wait();
}

// Starts `count` tasks that park on a gate, waits until all are parked (and reads the RSS
// into `rss_parked` if given), opens the gate and waits until every one of them has ended.
weft::task<> spike(std::size_t count, std::size_t* rss_parked = nullptr) {
    weft::wait_group parked;
    weft::wait_group gate;
    weft::wait_group finished;
    parked.add(static_cast<long>(count));
    gate.add(1);
    for (std::size_t i = 0; i < count; ++i)
        finished.go(park_on_gate, std::ref(parked), std::ref(gate));
    co_await parked.wait();
    if (rss_parked) *rss_parked = weft_test::rss_bytes();
    gate.done();
    co_await finished.wait();
    while (weft::num_tasks() > 1)  // the last frames are freed just after their tasks count as ended
        co_await weft::yield();
}

// A frame of another size class than park_on_gate's, holding a probe, parked for good.
weft::task<> park_big_forever(weft_test::probe p, std::atomic<long>& started, weft::wait_group& never) {
    std::array<long, 40> scratch{};
    scratch[started.fetch_add(1) % scratch.size()] = 1;
    co_await never.wait();
    static_cast<void>(p);
    static_cast<void>(scratch);
}

// Sends one value on a fresh channel (an object-pool block) and parks with it for good.
weft::task<> park_with_chan(weft_test::probe p, weft::wait_group& never) {
    auto c = weft::make_chan<int>(1);
    co_await c.send(7);
    co_await never.wait();
    static_cast<void>(p);
}

weft::task<long> square(long i) {
    co_return i* i;
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

    // ---- free_os_memory -------------------------------------------------------------------

    TEST_CASE("free_os_memory returns the frames of tasks that ended to the OS") {
        // One worker: it never runs out of work here, so nothing is released behind our back.
        const std::size_t n = weft_test::scaled(300'000, 50'000);
        struct outcome {
            std::size_t released = 0;
            std::size_t again = 0;
            std::size_t grown = 0;
            std::size_t left = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, [n]() -> weft::task<outcome> {
            weft::free_os_memory();
            const std::size_t base = weft_test::rss_bytes();
            outcome result;
            std::size_t peak = 0;
            co_await spike(n, &peak);
            result.grown = peak - base;
            result.released = weft::free_os_memory();
            result.again = weft::free_os_memory();
            const std::size_t after = weft_test::rss_bytes();
            result.left = after > base ? after - base : 0;
            co_return result;
        });
        CAPTURE(n);
        CAPTURE(o.released);
        CAPTURE(o.grown);
        CAPTURE(o.left);
        // Every parked frame is at least 32 bytes; all but the last few slabs come back.
        CHECK(o.released >= n * 32);
        CHECK(o.released % (64 * 1024) == 0);  // whole slabs
        CHECK(o.again == 0);                   // nothing was left to return
#if !WEFT_TEST_SANITIZED                       // a sanitizer's shadow and quarantine stay resident
        CHECK(o.left * 4 <= o.grown);
#endif
    }

    TEST_CASE("a runtime that runs out of work returns its free frames to the OS by itself") {
        constexpr std::size_t n = 100'000;  // over the 4 MiB from which it bothers, sanitizers or not
        const std::size_t left = weft::run(weft::options{.workers = 2}, []() -> weft::task<std::size_t> {
            co_await spike(n);
            // Both workers park now: the first to do so a second after the last automatic
            // release returns the free slabs (keeping a reserve if frames were recently taken
            // from the pool, returned a second later: parked workers wake for it).
            co_await weft::sleep_for(2500ms);
            co_return weft::free_os_memory();
        });
        CAPTURE(left);
        CHECK(left < n * 32 / 4);
    }

    TEST_CASE("run returns the free frames to the OS when it ends") {
        const std::size_t n = weft_test::scaled(200'000, 50'000);
        weft::run(weft::options{.workers = 2}, spike, n, nullptr);
        CHECK(weft::free_os_memory() < n * 32 / 4);
    }

    TEST_CASE("memory returned to the OS is reused: later tasks run, and shutdown destroys them") {
        const std::size_t n = weft_test::scaled(100'000, 20'000);
        std::atomic<long> live{0};
        std::atomic<long> started{0};
        weft::wait_group never;  // outlives run; never reaches zero
        never.add(1);
        struct outcome {
            std::size_t released = 0;
            long sum = 0;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [n](std::atomic<long>& l, std::atomic<long>& s, weft::wait_group& nv) -> weft::task<outcome> {
                outcome result;
                co_await spike(n);
                result.released = weft::free_os_memory();
                // Frames of other size classes and channel states now come from the released
                // slabs (zero again); shutdown's walk of the pool must find exactly these.
                for (std::size_t i = 0; i < n / 2; ++i)
                    weft::go(park_big_forever, weft_test::probe{l}, std::ref(s), std::ref(nv));
                for (std::size_t i = 0; i < n / 4; ++i)
                    weft::go(park_with_chan, weft_test::probe{l}, std::ref(nv));
                std::vector<weft::join_handle<long>> squares;
                for (long i = 0; i < 1000; ++i)
                    squares.push_back(weft::spawn(square, i));
                for (auto& h : squares)
                    result.sum += co_await h;
                while (s.load() < static_cast<long>(n / 2))
                    co_await weft::yield();
                co_return result;
            },
            std::ref(live), std::ref(started), std::ref(never));
        CHECK(o.released > 0);
        CHECK(o.sum == 332'833'500);  // sum of i*i for i < 1000
        CHECK(started.load() == static_cast<long>(n / 2));
        CHECK(live.load() == 0);  // every parked task destroyed at shutdown, none twice
        CHECK(weft::num_tasks() == 0);
    }

    TEST_CASE("free_os_memory from another thread while tasks start and end loses no task") {
        const int rounds = static_cast<int>(weft_test::scaled(40, 8));
        const std::size_t per_round = weft_test::scaled(20'000, 2'000);
        std::atomic<bool> stop{false};
        std::thread releaser([&stop] {
            while (!stop.load())
                weft::free_os_memory();
        });
        const long total = weft::run(weft::options{.workers = 2}, [rounds, per_round]() -> weft::task<long> {
            std::atomic<long> ran{0};
            for (int r = 0; r < rounds; ++r) {
                weft::wait_group wg;
                for (std::size_t i = 0; i < per_round; ++i)
                    wg.go([&ran]() -> weft::task<> {
                        ran.fetch_add(1);
                        co_return;
                    });
                co_await wg.wait();
                weft::free_os_memory();  // and from a worker, with its own cache flushed
            }
            co_return ran.load();
        });
        stop.store(true);
        releaser.join();
        CHECK(total == static_cast<long>(rounds) * static_cast<long>(per_round));
    }

}  // TEST_SUITE("runtime")
