// Provides the doctest cases for weft::go, weft::spawn and weft::join_handle
// (include/weft/go.hpp), and for panics: the panic handler and the default abort.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace {

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// ---- every task runs once -------------------------------------------------------------

weft::task<> mark_once(std::atomic<std::uint8_t>* flags, std::size_t index, std::atomic<std::size_t>* runs,
                       weft::wait_group* wg) {
    flags[index].fetch_add(1, std::memory_order_relaxed);
    runs->fetch_add(1, std::memory_order_relaxed);
    wg->done();
    co_return;
}

weft::task<> start_all(std::atomic<std::uint8_t>* flags, std::size_t n, std::atomic<std::size_t>* runs) {
    weft::wait_group wg;
    wg.add(static_cast<std::int64_t>(n));
    for (std::size_t i = 0; i < n; ++i)
        weft::go(mark_once, flags, i, runs, &wg);
    co_await wg.wait();
}

// ---- nested spawning -----------------------------------------------------------------

weft::task<> tree(int depth, int fanout, weft::wait_group& wg, std::atomic<long>& leaves, std::atomic<long>& nodes) {
    nodes.fetch_add(1, std::memory_order_relaxed);
    if (depth == 0) {
        leaves.fetch_add(1, std::memory_order_relaxed);
    } else {
        for (int i = 0; i < fanout; ++i) {
            wg.add(1);
            weft::go(tree, depth - 1, fanout, std::ref(wg), std::ref(leaves), std::ref(nodes));
        }
    }
    wg.done();
    co_return;
}

// ---- argument passing -----------------------------------------------------------------

weft::task<> record_value(std::string s, weft::wait_group& gate, std::string& out, weft::wait_group& finished) {
    co_await gate.wait();
    out = s;
    finished.done();
}
weft::task<> record_cref(const std::string& s, weft::wait_group& gate, std::string& out, weft::wait_group& finished) {
    co_await gate.wait();
    out = s;
    finished.done();
}
weft::task<> record_view(std::string_view s, weft::wait_group& gate, std::string& out, weft::wait_group& finished) {
    co_await gate.wait();
    out = std::string(s);
    finished.done();
}

weft::task<> bump(std::atomic<int>& counter, weft::wait_group& wg) {
    counter.fetch_add(1);
    wg.done();
    co_return;
}

weft::task<> consume(std::unique_ptr<int> p, std::atomic<int>& out, weft::wait_group& wg) {
    co_await weft::yield();
    out.store(*p);
    wg.done();
}

// ---- spawn / join_handle ----------------------------------------------------------------

weft::task<int> square(int x) {
    co_return x* x;
}

weft::task<int> spawn_level(int depth, bool fail) {
    if (depth == 0) {
        co_await weft::yield();
        if (fail) throw test_error("failure three spawns deep");
        co_return 100;
    }
    auto h = weft::spawn(spawn_level, depth - 1, fail);
    const int below = co_await h;
    co_return below + 1;
}

weft::task<int> gated_value(weft::wait_group& gate, int v) {
    co_await gate.wait();
    co_return v;
}

weft::task<> release_after_yields(weft::wait_group& gate, int yields) {
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
    gate.done();
}

// Calls wg.done() when destroyed: an argument of type done_on_destroy signals that the task's
// frame (which owns the argument) has been freed.
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

weft::task<int> gated_count(weft::wait_group& gate, std::atomic<int>& ran, done_on_destroy signal) {
    static_cast<void>(signal);
    co_await gate.wait();
    ran.fetch_add(1);
    co_return 1;
}

weft::task<int> gated_throw(weft::wait_group& gate) {
    co_await gate.wait();
    throw test_error("nobody collects this");
}

weft::task<int> set_then_return(std::atomic<bool>& finished, weft_test::probe p) {
    static_cast<void>(p);
    finished.store(true);
    co_return 3;
}

weft::task<int> throw_now(std::atomic<bool>& finished) {
    finished.store(true);
    throw test_error("thrown before anyone joined");
    co_return 0;
}

weft::task<int> probed_throw(std::atomic<bool>& finished, weft_test::probe p) {
    static_cast<void>(p);
    finished.store(true);
    throw test_error("kept by a handle nobody awaits");
    co_return 0;
}

// ---- panics ----------------------------------------------------------------------------

weft::task<> panicking(std::string message) {
    co_await weft::yield();
    throw test_error(message);
}

struct panic_record {
    std::mutex lock;
    std::vector<std::string> messages;  // guarded by lock
    std::atomic<int> calls{0};
};

weft::panic_handler recording_handler(panic_record& record, weft::wait_group& wg) {
    return [&record, &wg](std::exception_ptr error) {
        std::string what = "<not a std::exception>";
        try {
            std::rethrow_exception(error);
        } catch (const test_error& e) {
            what = e.what();
        } catch (...) {
        }
        {
            const std::lock_guard<std::mutex> hold(record.lock);
            record.messages.push_back(what);
        }
        record.calls.fetch_add(1);
        wg.done();
    };
}

constexpr const char* panic_child_env = "WEFT_TEST_PANIC_CHILD";
constexpr const char* panic_child_case = "panic child: an escaped exception with no handler aborts";
constexpr const char* panic_child_message = "weft: panic in task: kaboom 42";

}  // namespace

TEST_SUITE("go") {
    TEST_CASE("every task started with go runs exactly once") {
        const std::size_t n = weft_test::scaled(1'000'000, 1000);
        for (const unsigned workers : {1u, 4u}) {
            CAPTURE(workers);
            CAPTURE(n);
            auto flags = std::make_unique<std::atomic<std::uint8_t>[]>(n);
            std::atomic<std::size_t> runs{0};
            weft::run(weft::options{.workers = workers}, start_all, flags.get(), n, &runs);
            CHECK(runs.load() == n);
            std::size_t not_once = 0;
            for (std::size_t i = 0; i < n; ++i)
                if (flags[i].load() != 1) ++not_once;
            CHECK(not_once == 0);
        }
    }

    TEST_CASE("go from a plain std::thread while the runtime runs starts the task") {
        const std::size_t n = 1000;
        auto flags = std::make_unique<std::atomic<std::uint8_t>[]>(n);
        std::atomic<std::size_t> runs{0};
        std::atomic<bool> go_threw{false};
        weft::run(
            weft::options{.workers = 2},
            [](std::atomic<std::uint8_t>* f, std::size_t count, std::atomic<std::size_t>* r,
               std::atomic<bool>* threw) -> weft::task<> {
                weft::wait_group wg;
                wg.add(static_cast<std::int64_t>(count));
                std::thread outsider([f, count, r, threw, &wg] {
                    try {
                        for (std::size_t i = 0; i < count; ++i)
                            weft::go(mark_once, f, i, r, &wg);
                    } catch (...) {
                        threw->store(true);
                        wg.add(-wg.count());
                    }
                });
                co_await wg.wait();
                outsider.join();
            },
            flags.get(), n, &runs, &go_threw);
        CHECK_FALSE(go_threw.load());
        CHECK(runs.load() == n);
    }

    TEST_CASE("on one worker, tasks started from another thread run in the order they were started") {
        // They queue in the injection queue (FIFO); the worker takes them in batches, and its
        // fairness tick must not run the queue's head ahead of the batch it holds.
        const std::size_t n = 2000;
        std::vector<std::size_t> order;
        order.reserve(n);
        weft::run(
            weft::options{.workers = 1},
            [](std::vector<std::size_t>& ran, std::size_t count) -> weft::task<> {
                weft::wait_group wg;
                wg.add(static_cast<std::int64_t>(count));
                std::atomic<bool> all_started{false};
                std::thread outsider([&ran, &wg, &all_started, count] {
                    for (std::size_t i = 0; i < count; ++i) {
                        weft::go(
                            [](std::vector<std::size_t>& r, std::size_t k, weft::wait_group& g) -> weft::task<> {
                                r.push_back(k);  // one worker: no two tasks run at once
                                g.done();
                                co_return;
                            },
                            std::ref(ran), i, std::ref(wg));
                    }
                    all_started.store(true);
                });
                while (!all_started.load())  // the only worker stays busy: none of them runs yet
                    std::this_thread::yield();
                outsider.join();
                co_await wg.wait();
            },
            std::ref(order), n);
        REQUIRE(order.size() == n);
        std::size_t out_of_order = 0;
        for (std::size_t i = 0; i < n; ++i)
            if (order[i] != i) ++out_of_order;
        CHECK(out_of_order == 0);
    }

    TEST_CASE("on one worker, a task started from another thread is not starved by local spawning") {
        // The relay keeps the local queue busy forever; the fairness tick must still take
        // the injection queue's task.
        static constexpr long hop_limit = 20'000'000;  // reached only if the outsider's task starves
        const long hops = weft::run(weft::options{.workers = 1}, []() -> weft::task<long> {
            weft_test::spawn_relay relay{hop_limit};
            weft::go(weft_test::spawn_relay::hop, std::ref(relay));
            std::thread outsider([&relay] {
                while (relay.hops.load() < 1000)  // the relay is running
                    std::this_thread::yield();
                weft::go(weft_test::spawn_relay::rival, std::ref(relay));
            });
            co_await relay.finished.wait();
            outsider.join();
            co_return relay.outcome();
        });
        CHECK(hops >= 1000);
        CHECK(hops < hop_limit);
    }

    TEST_CASE("go nested six levels deep with fanout 5 runs every node and 15625 leaves") {
        std::atomic<long> leaves{0};
        std::atomic<long> nodes{0};
        weft::run(
            [](std::atomic<long>& l, std::atomic<long>& n) -> weft::task<> {
                weft::wait_group wg;
                wg.add(1);
                weft::go(tree, 6, 5, std::ref(wg), std::ref(l), std::ref(n));
                co_await wg.wait();
            },
            std::ref(leaves), std::ref(nodes));
        CHECK(leaves.load() == 15625);
        CHECK(nodes.load() == 19531);  // 1 + 5 + 25 + ... + 5^6
    }

    TEST_CASE("a capturing lambda passed to go as a temporary keeps its captures alive") {
        struct outcome {
            std::string seen;
            bool alive_while_parked = false;
            bool freed_after = false;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome result;
            weft::wait_group gate;
            weft::wait_group finished;
            gate.add(1);
            auto shared = std::make_shared<std::string>("shared payload");
            std::string text(64, 'x');  // long enough to live on the heap
            const std::weak_ptr<std::string> weak = shared;
            std::string* out = &result.seen;
            finished.go([shared, text, out, &gate]() -> weft::task<> {
                co_await gate.wait();
                *out = *shared + "/" + text;
            });
            shared.reset();
            text.assign(64, 'y');
            text.shrink_to_fit();
            result.alive_while_parked = !weak.expired();  // the task's copy of the lambda holds it
            gate.done();
            co_await finished.wait();
            result.freed_after = weak.expired();  // the frame, and its copy of the lambda, are gone
            co_return result;
        });
        CHECK(o.seen == "shared payload/" + std::string(64, 'x'));
        CHECK(o.alive_while_parked);
        CHECK(o.freed_after);
    }

    TEST_CASE("a capturing lambda passed to spawn as a temporary keeps its captures alive") {
        const std::string seen = weft::run(weft::options{.workers = 2}, []() -> weft::task<std::string> {
            auto prefix = std::make_shared<std::string>("spawned");
            std::string suffix(40, 's');
            auto h = weft::spawn([prefix, suffix]() -> weft::task<std::string> {
                co_await weft::yield();
                co_return *prefix + ":" + suffix;
            });
            prefix.reset();
            suffix.clear();
            std::string r = co_await h;
            co_return r;
        });
        CHECK(seen == "spawned:" + std::string(40, 's'));
    }

    TEST_CASE("arguments are decay-copied: a later change by the caller is not seen by the task") {
        struct outcome {
            std::string by_value;
            std::string by_cref;
            std::string by_view;
            std::string by_lambda;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome result;
            weft::wait_group gate;
            weft::wait_group finished;
            gate.add(1);
            finished.add(4);
            std::string message(48, 'b');  // "before", long enough to be heap-allocated
            weft::go(record_value, message, std::ref(gate), std::ref(result.by_value), std::ref(finished));
            weft::go(record_cref, message, std::ref(gate), std::ref(result.by_cref), std::ref(finished));
            weft::go(record_view, message, std::ref(gate), std::ref(result.by_view), std::ref(finished));
            weft::go(
                [](const std::string& s, weft::wait_group& g, std::string& out, weft::wait_group& f) -> weft::task<> {
                    co_await g.wait();
                    out = s;
                    f.done();
                },
                message, std::ref(gate), std::ref(result.by_lambda), std::ref(finished));
            message.assign(48, 'a');  // "after"
            message.shrink_to_fit();
            gate.done();
            co_await finished.wait();
            co_return result;
        });
        const std::string before(48, 'b');
        CHECK(o.by_value == before);
        CHECK(o.by_cref == before);
        CHECK(o.by_view == before);
        CHECK(o.by_lambda == before);
    }

    TEST_CASE("std::ref arguments share the caller's object") {
        std::atomic<int> counter{0};
        weft::run(
            weft::options{.workers = 3},
            [](std::atomic<int>& c) -> weft::task<> {
                weft::wait_group wg;
                wg.add(100);
                for (int i = 0; i < 100; ++i)
                    weft::go(bump, std::ref(c), std::ref(wg));
                co_await wg.wait();
            },
            std::ref(counter));
        CHECK(counter.load() == 100);
    }

    TEST_CASE("move-only arguments and move-only callables are moved into the task") {
        std::atomic<int> direct{0};
        std::atomic<int> through_lambda{0};
        std::atomic<int> captured{0};
        weft::run(
            weft::options{.workers = 2},
            [](std::atomic<int>& a, std::atomic<int>& b, std::atomic<int>& c) -> weft::task<> {
                weft::wait_group wg;
                wg.add(3);
                weft::go(consume, std::make_unique<int>(42), std::ref(a), std::ref(wg));
                weft::go(
                    [](std::unique_ptr<int> p, std::atomic<int>& out, weft::wait_group& w) -> weft::task<> {
                        co_await weft::yield();
                        out.store(*p);
                        w.done();
                    },
                    std::make_unique<int>(7), std::ref(b), std::ref(wg));
                auto owned = std::make_unique<int>(9);
                weft::go([p = std::move(owned), &c, &wg]() -> weft::task<> {
                    co_await weft::yield();
                    c.store(*p);
                    wg.done();
                });
                co_await wg.wait();
            },
            std::ref(direct), std::ref(through_lambda), std::ref(captured));
        CHECK(direct.load() == 42);
        CHECK(through_lambda.load() == 7);
        CHECK(captured.load() == 9);
    }

    TEST_CASE("spawn's join_handle gives the task's value, as an lvalue or an rvalue") {
        struct outcome {
            bool joinable_before = false;
            bool joinable_after = true;
            int lvalue = 0;
            int rvalue = 0;
            bool default_joinable = true;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome result;
            auto h = weft::spawn(square, 7);
            result.joinable_before = h.joinable();
            result.lvalue = co_await h;
            result.joinable_after = h.joinable();
            result.rvalue = co_await weft::spawn(square, 8);
            const weft::join_handle<int> empty;
            result.default_joinable = empty.joinable();
            co_return result;
        });
        CHECK(o.joinable_before);
        CHECK_FALSE(o.joinable_after);
        CHECK(o.lvalue == 49);
        CHECK(o.rvalue == 64);
        CHECK_FALSE(o.default_joinable);
    }

    TEST_CASE("spawn returns values and rethrows exceptions through three join_handles") {
        const int value = weft::run(weft::options{.workers = 3}, spawn_level, 3, false);
        CHECK(value == 103);
        CHECK_THROWS_WITH_AS(weft::run(weft::options{.workers = 3}, spawn_level, 3, true), "failure three spawns deep",
                             test_error);
    }

    TEST_CASE("a join_handle awaited before and after its task finished gives the value") {
        struct outcome {
            int before = 0;
            int after = 0;
            bool finished_first = false;
        };
        // One worker makes the order deterministic.
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            outcome result;
            weft::wait_group gate;
            gate.add(1);
            auto pending = weft::spawn(gated_value, std::ref(gate), 11);
            weft::go(release_after_yields, std::ref(gate), 3);
            result.before = co_await pending;  // suspends: the task is parked on the gate

            std::atomic<long> live{0};
            std::atomic<bool> finished{false};
            auto done_already = weft::spawn(set_then_return, std::ref(finished), weft_test::probe{live});
            for (int i = 0; i < 10 && !finished.load(); ++i)
                co_await weft::yield();
            result.finished_first = finished.load();
            result.after = co_await done_already;
            co_return result;
        });
        CHECK(o.before == 11);
        CHECK(o.finished_first);
        CHECK(o.after == 3);
    }

    TEST_CASE("a join_handle awaited before and after its task threw rethrows the exception") {
        struct outcome {
            std::string before = "no exception";
            std::string after = "no exception";
            bool finished_first = false;
        };
        // One worker makes the order deterministic: the first task throws while its joiner
        // waits (the exception goes straight to the joiner), the second before anyone joins
        // (the handle keeps it until it is awaited).
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            outcome result;
            weft::wait_group gate;
            gate.add(1);
            auto pending = weft::spawn(gated_throw, std::ref(gate));
            weft::go(release_after_yields, std::ref(gate), 3);
            try {
                static_cast<void>(co_await pending);
            } catch (const test_error& e) {
                result.before = e.what();
            }
            std::atomic<bool> finished{false};
            auto failed_already = weft::spawn(throw_now, std::ref(finished));
            for (int i = 0; i < 10 && !finished.load(); ++i)
                co_await weft::yield();
            result.finished_first = finished.load();
            try {
                static_cast<void>(co_await failed_already);
            } catch (const test_error& e) {
                result.after = e.what();
            }
            co_return result;
        });
        CHECK(o.before == "nobody collects this");
        CHECK(o.finished_first);
        CHECK(o.after == "thrown before anyone joined");
    }

    TEST_CASE("a spawned task that threw, with its handle still held when run ends, is freed") {
        // The handle lives in a task parked forever; run's shutdown destroys that task, then
        // the finished one with its exception (LeakSanitizer checks the exception is freed).
        std::atomic<long> live{0};
        weft::run(
            weft::options{.workers = 1},
            [](std::atomic<long>& l) -> weft::task<> {
                std::atomic<bool> finished{false};
                weft::go(
                    [](std::atomic<bool>& f, std::atomic<long>& probes) -> weft::task<> {
                        auto held = weft::spawn(probed_throw, std::ref(f), weft_test::probe{probes});
                        weft::wait_group never;
                        never.add(1);
                        co_await never.wait();
                    },
                    std::ref(finished), std::ref(l));
                for (int i = 0; i < 10 && !finished.load(); ++i)
                    co_await weft::yield();
                if (!finished.load() || l.load() != 1) throw test_error("the spawned task did not finish first");
            },
            std::ref(live));
        CHECK(live.load() == 0);
    }

    TEST_CASE("awaiting a join_handle twice throws std::logic_error") {
        const std::string what = weft::run([]() -> weft::task<std::string> {
            auto h = weft::spawn(square, 3);
            const int v = co_await h;
            std::string message = "no exception";
            try {
                static_cast<void>(co_await h);
            } catch (const std::logic_error& e) {
                message = e.what();
            }
            if (v != 9) message = "wrong value";
            co_return message;
        });
        CHECK(what == "weft: co_await on an empty join_handle");
    }

    TEST_CASE("dropping a join_handle detaches: the task still runs to completion and is freed") {
        std::atomic<int> ran{0};
        const bool freed = weft::run(
            weft::options{.workers = 2},
            [](std::atomic<int>& r) -> weft::task<bool> {
                weft::wait_group gate;
                weft::wait_group frames;  // done() when each task's frame is destroyed
                gate.add(1);
                frames.add(3);
                {
                    auto h = weft::spawn(gated_count, std::ref(gate), std::ref(r), done_on_destroy{frames});
                    auto moved = std::move(h);
                    auto assigned = weft::spawn(gated_count, std::ref(gate), std::ref(r), done_on_destroy{frames});
                    assigned = std::move(moved);  // drops the second handle
                    static_cast<void>(weft::spawn(gated_count, std::ref(gate), std::ref(r), done_on_destroy{frames}));
                }  // the last handle dropped while its task is parked on the gate
                gate.done();
                co_await frames.wait();
                co_return true;
            },
            std::ref(ran));
        CHECK(freed);
        CHECK(ran.load() == 3);
    }

    TEST_CASE("dropping the join_handle of a finished task frees its frame") {
        std::atomic<long> live{0};
        const bool ok = weft::run(
            weft::options{.workers = 1},
            [](std::atomic<long>& l) -> weft::task<bool> {
                std::atomic<bool> finished{false};
                bool alive_while_held = false;
                {
                    auto h = weft::spawn(set_then_return, std::ref(finished), weft_test::probe{l});
                    for (int i = 0; i < 10 && !finished.load(); ++i)
                        co_await weft::yield();
                    alive_while_held = l.load() == 1;  // the finished frame still owns the probe
                }
                co_return finished.load() && alive_while_held&& l.load() == 0;
            },
            std::ref(live));
        CHECK(ok);
        CHECK(live.load() == 0);
    }

    TEST_CASE("an exception from a spawned task whose handle was dropped is a panic") {
        panic_record record;
        weft::wait_group handled;  // done() by the handler
        const weft_test::panic_handler_guard guard{recording_handler(record, handled)};
        weft::run(
            weft::options{.workers = 1},
            [](weft::wait_group& h) -> weft::task<> {
                // Dropped while pending, then throws.
                weft::wait_group gate;
                gate.add(1);
                h.add(1);
                static_cast<void>(weft::spawn(gated_throw, std::ref(gate)));
                gate.done();
                co_await h.wait();
                // Throws first, then the handle is dropped.
                std::atomic<bool> finished{false};
                h.add(1);
                {
                    auto handle = weft::spawn(throw_now, std::ref(finished));
                    for (int i = 0; i < 10 && !finished.load(); ++i)
                        co_await weft::yield();
                }
                co_await h.wait();
            },
            std::ref(handled));
        CHECK(record.calls.load() == 2);
        const std::lock_guard<std::mutex> hold(record.lock);
        REQUIRE(record.messages.size() == 2);
        CHECK(record.messages[0] == "nobody collects this");
        CHECK(record.messages[1] == "thrown before anyone joined");
    }

    TEST_CASE("the panic handler is called with the exception that escaped a go task") {
        panic_record record;
        weft::wait_group handled;
        const weft_test::panic_handler_guard guard{recording_handler(record, handled)};
        weft::run(
            weft::options{.workers = 3},
            [](weft::wait_group& h) -> weft::task<> {
                h.add(10);
                for (int i = 0; i < 10; ++i)
                    weft::go(panicking, "panic " + std::to_string(i));
                co_await h.wait();
            },
            std::ref(handled));
        CHECK(record.calls.load() == 10);
        const std::lock_guard<std::mutex> hold(record.lock);
        std::vector<bool> seen(10, false);
        for (const std::string& m : record.messages)
            for (int i = 0; i < 10; ++i)
                if (m == "panic " + std::to_string(i)) seen[static_cast<std::size_t>(i)] = true;
        CHECK(seen == std::vector<bool>(10, true));
    }

    TEST_CASE("set_panic_handler returns the previous handler") {
        int which = 0;
        weft::panic_handler original = weft::set_panic_handler([&which](std::exception_ptr) { which = 1; });
        CHECK_FALSE(static_cast<bool>(original));  // the default is the empty handler
        weft::panic_handler first = weft::set_panic_handler([&which](std::exception_ptr) { which = 2; });
        REQUIRE(static_cast<bool>(first));
        first(nullptr);
        CHECK(which == 1);
        weft::panic_handler second = weft::set_panic_handler(original);
        REQUIRE(static_cast<bool>(second));
        second(nullptr);
        CHECK(which == 2);
        weft::panic_handler restored = weft::set_panic_handler(original);
        CHECK_FALSE(static_cast<bool>(restored));
    }

    TEST_CASE("go and spawn outside a running runtime throw std::logic_error") {
        CHECK_THROWS_AS(weft::go(square, 1), std::logic_error);
        CHECK_THROWS_AS(static_cast<void>(weft::spawn(square, 1)), std::logic_error);
    }

    // Run in a child process by the next case (skipped otherwise): the default panic must print
    // the message and abort.
    TEST_CASE("panic child: an escaped exception with no handler aborts" * doctest::skip()) {
        if (std::getenv(panic_child_env) == nullptr) return;
        ::signal(SIGABRT, SIG_DFL);  // doctest's crash handler would report to stdout first
        weft::run(weft::options{.workers = 2}, []() -> weft::task<> {
            weft::go(panicking, std::string("kaboom 42"));
            weft::wait_group never;
            never.add(1);
            co_await never.wait();
        });
        std::_Exit(3);  // not reached if the panic aborted
    }

    TEST_CASE("an exception escaping a go task with no handler prints the panic and aborts") {
        // A fresh process (fork + exec of this test binary) so the abort, sanitizers and the
        // runtime's threads cannot disturb this one.
        char exe[4096] = {};
        const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
        REQUIRE(len > 0);

        std::vector<std::string> env_strings;
        for (char** e = environ; *e != nullptr; ++e)
            env_strings.emplace_back(*e);
        env_strings.push_back(std::string(panic_child_env) + "=1");
        std::vector<char*> envp;
        for (std::string& s : env_strings)
            envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string filter = std::string("--test-case=") + panic_child_case;
        std::string no_skip = "--no-skip=true";
        std::vector<char*> argv{exe, filter.data(), no_skip.data(), nullptr};

        int pipe_fds[2];
        REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            // Child: only async-signal-safe calls until exec.
            ::dup2(pipe_fds[1], STDERR_FILENO);
            const int null_fd = ::open("/dev/null", O_WRONLY);
            if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
            const rlimit no_core{0, 0};
            ::setrlimit(RLIMIT_CORE, &no_core);
            ::alarm(60);  // a child that does not abort is killed by SIGALRM, not left hanging
            ::execve(exe, argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(pipe_fds[1]);
        std::string err;
        char buffer[4096];
        for (;;) {
            const ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
            if (got > 0) {
                err.append(buffer, static_cast<std::size_t>(got));
            } else if (got < 0 && errno == EINTR) {
                continue;
            } else {
                break;
            }
        }
        ::close(pipe_fds[0]);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        CAPTURE(err);
        CAPTURE(status);
        CHECK(WIFSIGNALED(status));
        if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGABRT);
        CHECK(err.find(panic_child_message) != std::string::npos);
    }

}  // TEST_SUITE("go")
