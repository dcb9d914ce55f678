// Provides the doctest cases for weft::context (include/weft/context.hpp): cancellation trees,
// deadlines, causes, values, without_cancel, after_func and the context-aware waits; a port
// of Go's src/context/context_test.go, x_test.go and afterfunc_test.go.
//
// Timing: no check here depends on a tight upper bound. "Done" is observed without blocking
// (a select with default_case) right after a synchronous cancel, and with a generous guard
// timer (Go's `quiescent`) when a deadline has to pass.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;
using time_point = steady::time_point;

constexpr auto very_long = 1000h;  // Go's veryLongDuration: never reached in a test
constexpr auto quiescent = 10s;    // Go's quiescent: how long to wait for what must happen

double ms_since(time_point from) {
    return std::chrono::duration<double, std::milli>(steady::now() - from).count();
}

const std::error_code canceled = weft::errc::canceled;
const std::error_code deadline_exceeded = weft::errc::deadline_exceeded;

// Causes given to cancel_cause_func (Go's errors.New values).
const std::error_code parent_cause = std::make_error_code(std::errc::connection_reset);
const std::error_code child_cause = std::make_error_code(std::errc::broken_pipe);
const std::error_code other_cause = std::make_error_code(std::errc::timed_out);

// Whether ctx.done() is ready now: a non-blocking select, as Go's `select { case <-c.Done(): default: }`.
weft::task<bool> is_done(weft::context ctx) {
    auto r = co_await weft::select(weft::recv(ctx.done()), weft::default_case);
    co_return r.index() == 0;
}

// Waits for ctx.done() for up to `limit`; true if it closed in time.
weft::task<bool> done_within(weft::context ctx, steady::duration limit) {
    weft::timer guard(limit);
    auto r = co_await weft::select(weft::recv(ctx.done()), weft::recv(guard.c()));
    co_return r.index() == 0;
}

// Waits for a value on `c` for up to `limit`.
template <class T>
weft::task<bool> value_within(weft::chan<T> c, steady::duration limit) {
    weft::timer guard(limit);
    auto r = co_await weft::select(weft::recv(c), weft::recv(guard.c()));
    co_return r.index() == 0;
}

// ---- keys for values ---------------------------------------------------------------------

struct key1 {
    int v;
    bool operator==(const key1&) const = default;
};
struct key2 {
    int v;
    bool operator==(const key2&) const = default;
};
const key1 k1{1};
const key2 k2{1};  // the same int as k1, another type
const key2 k3{3};  // the type of k2, another int

std::string value_of(const weft::context& c, const auto& key) {
    return c.value<std::string>(key).value_or("");
}

// Go's TestValues `check`: the string values of k1, k2 and k3 ("" if absent or not a string).
bool values_are(const weft::context& c, const std::string& v1, const std::string& v2, const std::string& v3) {
    return value_of(c, k1) == v1 && value_of(c, k2) == v2 && value_of(c, k3) == v3;
}

// ---- a tree of contexts -----------------------------------------------------------------

struct node {
    weft::context ctx;
    weft::cancel_func cancel;
};

// Go's TestSimultaneousCancels tree: a root and four children per node, breadth first,
// until there are at least `n` contexts.
std::vector<node> make_tree(std::size_t n) {
    std::vector<node> nodes;
    nodes.reserve(n + 4);
    auto [root, cancel] = weft::with_cancel(weft::background());
    nodes.push_back({root, cancel});
    for (std::size_t next = 0; next < nodes.size() && nodes.size() < n; ++next) {
        for (int i = 0; i < 4; ++i) {
            auto [child, child_cancel] = weft::with_cancel(nodes[next].ctx);
            nodes.push_back({child, child_cancel});
        }
    }
    return nodes;
}

weft::task<> cancel_in_task(weft::cancel_func cancel, const std::atomic<bool>& start) {
    while (!start.load())
        co_await weft::yield();
    cancel();
}

// ---- waiters ----------------------------------------------------------------------------

struct waiter_tally {
    std::atomic<std::size_t> woke{0};
    std::atomic<std::size_t> wrong_err{0};
};

weft::task<> wait_on_context(weft::context ctx, bool by_select, waiter_tally& tally) {
    std::error_code e;
    if (by_select) {
        const auto never = weft::make_chan<int>();
        auto r = co_await weft::select(weft::recv(never), weft::recv(ctx.done()));
        if (r.index() == 1) e = ctx.err();
    } else {
        e = co_await ctx.wait();
    }
    if (e != canceled) tally.wrong_err.fetch_add(1, std::memory_order_relaxed);
    tally.woke.fetch_add(1, std::memory_order_relaxed);
}

// docs/examples/context_cancel.cpp, as a test.
weft::task<> wait_for_stop(weft::context ctx, std::atomic<int>& stopped) {
    auto never = weft::make_chan<int>();
    auto r = co_await weft::select(weft::recv(never), weft::recv(ctx.done()));
    if (r.index() == 1) ++stopped;
}

// ---- memory -----------------------------------------------------------------------------

const int user_key = 0;  // a pointer to a static object: the usual key

}  // namespace

TEST_SUITE("context") {
    // ---- background -------------------------------------------------------------------------

    TEST_CASE("background is never done: nil done(), empty err and cause, no deadline, no values (TestBackground)") {
        const weft::context bg = weft::background();
        CHECK(bg.done().is_nil());
        CHECK_FALSE(bg.err());
        CHECK_FALSE(bg.cause());
        CHECK_FALSE(bg.deadline().has_value());
        CHECK_FALSE(bg.value<std::string>(k1).has_value());
        CHECK(bg == weft::context{});
        CHECK(bg == weft::background());
        const auto [done, waited] = weft::run(weft::options{.workers = 2}, []() -> weft::task<std::pair<bool, bool>> {
            const bool d = co_await is_done(weft::background());
            // wait() on a context that can never be cancelled never completes.
            auto finished = weft::make_chan<int>(1);
            weft::go(
                [](weft::chan<int> f) -> weft::task<> {
                    co_await weft::background().wait();
                    co_await f.send(1);
                },
                finished);
            co_await weft::sleep_for(20ms);
            co_return std::pair{d, finished.try_recv().has_value()};
        });
        CHECK_FALSE(done);
        CHECK_FALSE(waited);
    }

    TEST_CASE("contexts are cheap copyable handles: copies compare equal, derived contexts do not") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        const weft::context copy = ctx;
        weft::context assigned;
        CHECK_FALSE(assigned == ctx);
        assigned = copy;
        CHECK(assigned == ctx);
        CHECK(copy.done() == ctx.done());
        const auto child = weft::with_cancel(ctx).ctx;
        CHECK_FALSE(child == ctx);
        cancel();
        CHECK(assigned.err() == weft::errc::canceled);  // a copy sees the cancellation
    }

    // ---- errors -------------------------------------------------------------------------------

    TEST_CASE("err and cause values: weft's error category, \"context canceled\", \"context deadline exceeded\"") {
        static_assert(std::is_error_code_enum_v<weft::errc>);
        CHECK(std::string(weft::error_category().name()) == "weft");
        CHECK(std::error_code(weft::errc::canceled).message() == "context canceled");
        CHECK(std::error_code(weft::errc::deadline_exceeded).message() == "context deadline exceeded");
        CHECK(weft::make_error_code(weft::errc::canceled).category() == weft::error_category());
        CHECK(canceled != deadline_exceeded);
        CHECK(canceled.value() != 0);
        CHECK(deadline_exceeded.value() != 0);

        auto [ctx, cancel] = weft::with_cancel(weft::background());
        CHECK_FALSE(ctx.err());
        CHECK(ctx.err() != weft::errc::canceled);
        cancel();
        const std::error_code e = ctx.err();
        CHECK(static_cast<bool>(e));
        CHECK(e == weft::errc::canceled);
        CHECK(e.category() == weft::error_category());
        CHECK(std::string(e.category().name()) == "weft");
        CHECK(e.message() == "context canceled");
        CHECK(ctx.cause() == weft::errc::canceled);

        const auto expired =
            weft::run(weft::options{.workers = 1}, []() -> weft::task<std::pair<std::error_code, std::error_code>> {
                auto [c, cancel_timeout] = weft::with_timeout(weft::background(), 1ms);
                const std::error_code waited = co_await c.wait();
                cancel_timeout();  // after the deadline: changes nothing
                co_return std::pair{waited, c.cause()};
            });
        CHECK(expired.first == weft::errc::deadline_exceeded);
        CHECK(expired.first.message() == "context deadline exceeded");
        CHECK(expired.second == weft::errc::deadline_exceeded);
    }

    // ---- with_cancel --------------------------------------------------------------------------

    TEST_CASE("cancel closes done and sets err on the context and its descendants before it returns (TestWithCancel)") {
        struct outcome {
            int nil_done = 0, err_before = 0, done_before = 0, not_done_after = 0, wrong_err_after = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [c1, cancel] = weft::with_cancel(weft::background());
            const weft::context o1 = weft::with_value(c1, k1, std::string("v"));
            const weft::context c2 = weft::with_cancel(o1).ctx;
            const std::vector<weft::context> contexts{c1, o1, c2};
            for (const auto& c : contexts) {
                if (c.done().is_nil()) ++out.nil_done;
                if (c.err()) ++out.err_before;
                if (co_await is_done(c)) ++out.done_before;
            }
            cancel();  // propagates synchronously
            for (const auto& c : contexts) {
                if (!co_await is_done(c)) ++out.not_done_after;
                if (c.err() != weft::errc::canceled) ++out.wrong_err_after;
            }
            co_return out;
        });
        CHECK(o.nil_done == 0);
        CHECK(o.err_before == 0);
        CHECK(o.done_before == 0);
        CHECK(o.not_done_after == 0);
        CHECK(o.wrong_err_after == 0);
    }

    TEST_CASE(
        "cancelling a parent cancels every descendant, and a child derived afterwards is born cancelled "
        "(TestParentFinishesChild)") {
        struct outcome {
            int done_before = 0, not_done_after = 0, wrong_err = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            // parent -> cancel_child; parent -> value_child -> timer_child
            auto [parent, cancel] = weft::with_cancel(weft::background());
            auto [cancel_child, stop1] = weft::with_cancel(parent);
            const weft::context value_child = weft::with_value(parent, k1, std::string("value"));
            auto [timer_child, stop2] = weft::with_timeout(value_child, very_long);
            const std::vector<weft::context> tree{parent, cancel_child, value_child, timer_child};
            for (const auto& c : tree) {
                if (co_await is_done(c)) ++out.done_before;
            }
            cancel();
            for (const auto& c : tree) {
                if (!co_await is_done(c)) ++out.not_done_after;
                if (c.err() != weft::errc::canceled) ++out.wrong_err;  // the timer child too
            }
            // Deriving from the cancelled parent.
            const std::vector<weft::context> late{weft::with_value(parent, k1, std::string("value")),
                                                  weft::with_cancel(parent).ctx, weft::with_cancel_cause(parent).ctx,
                                                  weft::with_timeout(parent, very_long).ctx,
                                                  weft::with_deadline(parent, steady::now() + 1h).ctx};
            for (const auto& c : late) {
                if (!co_await is_done(c)) ++out.not_done_after;
                if (c.err() != weft::errc::canceled) ++out.wrong_err;
            }
            stop1();
            stop2();
            co_return out;
        });
        CHECK(o.done_before == 0);
        CHECK(o.not_done_after == 0);
        CHECK(o.wrong_err == 0);
    }

    TEST_CASE("a child's cancel does not touch its parent (TestChildFinishesFirst)") {
        struct outcome {
            int child_not_done = 0, child_wrong_err = 0, parent_done = 0, parent_err = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [cancellable, stop] = weft::with_cancel(weft::background());
            const std::vector<weft::context> parents{weft::background(), cancellable};
            for (const weft::context& parent : parents) {
                auto [child, cancel] = weft::with_cancel(parent);
                cancel();
                if (!co_await is_done(child)) ++out.child_not_done;
                if (child.err() != weft::errc::canceled) ++out.child_wrong_err;
                if (co_await is_done(parent)) ++out.parent_done;
                if (parent.err()) ++out.parent_err;
            }
            // A with_timeout child and a with_cancel_cause child, cancelled, leave the parent too.
            auto [t, cancel_t] = weft::with_timeout(cancellable, very_long);
            cancel_t();
            auto [cc, cancel_cc] = weft::with_cancel_cause(cancellable);
            cancel_cc(child_cause);
            if (co_await is_done(cancellable)) ++out.parent_done;
            if (cancellable.err() || cancellable.cause()) ++out.parent_err;
            stop();
            co_return out;
        });
        CHECK(o.child_not_done == 0);
        CHECK(o.child_wrong_err == 0);
        CHECK(o.parent_done == 0);
        CHECK(o.parent_err == 0);
    }

    TEST_CASE("cancel is idempotent, and with_cancel_cause keeps the first cause") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        cancel();
        cancel();
        CHECK(ctx.err() == weft::errc::canceled);
        CHECK(ctx.cause() == weft::errc::canceled);

        auto [cctx, cancel_cause] = weft::with_cancel_cause(weft::background());
        CHECK_FALSE(cctx.cause());
        cancel_cause(parent_cause);
        cancel_cause(child_cause);
        cancel_cause({});
        CHECK(cctx.err() == weft::errc::canceled);  // err is always canceled; the cause is separate
        CHECK(cctx.cause() == parent_cause);

        const weft::cancel_func inert;  // a default-constructed cancel function does nothing
        inert();
        const weft::cancel_cause_func inert_cause;
        inert_cause(parent_cause);
    }

    TEST_CASE("err and cause after every way of ending a context (TestCause)") {
        struct row {
            const char* name;
            weft::context (*make)();
            std::error_code err;
            std::error_code cause;
        };
        static const row rows[] = {
            {"background", [] { return weft::background(); }, {}, {}},
            {"with_cancel",
             [] {
                 auto [c, cancel] = weft::with_cancel(weft::background());
                 cancel();
                 return c;
             },
             canceled, canceled},
            {"with_cancel_cause",
             [] {
                 auto [c, cancel] = weft::with_cancel_cause(weft::background());
                 cancel(parent_cause);
                 return c;
             },
             canceled, parent_cause},
            {"with_cancel_cause with an empty cause",
             [] {
                 auto [c, cancel] = weft::with_cancel_cause(weft::background());
                 cancel({});
                 return c;
             },
             canceled, canceled},
            {"parent cause before child",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel_cause(weft::background());
                 auto [c, cancel_child] = weft::with_cancel_cause(p);
                 cancel_parent(parent_cause);
                 cancel_child(child_cause);
                 return c;
             },
             canceled, parent_cause},
            {"parent cause after child",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel_cause(weft::background());
                 auto [c, cancel_child] = weft::with_cancel_cause(p);
                 cancel_child(child_cause);
                 cancel_parent(parent_cause);
                 return c;
             },
             canceled, child_cause},
            {"parent cause before a plain child cancel",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel_cause(weft::background());
                 auto [c, cancel_child] = weft::with_cancel(p);
                 cancel_parent(parent_cause);
                 cancel_child();
                 return c;
             },
             canceled, parent_cause},
            {"parent cause after a plain child cancel",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel_cause(weft::background());
                 auto [c, cancel_child] = weft::with_cancel(p);
                 cancel_child();
                 cancel_parent(parent_cause);
                 return c;
             },
             canceled, canceled},
            {"child cause after a plain parent cancel",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel(weft::background());
                 auto [c, cancel_child] = weft::with_cancel_cause(p);
                 cancel_parent();
                 cancel_child(child_cause);
                 return c;
             },
             canceled, canceled},
            {"child cause before a plain parent cancel",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel(weft::background());
                 auto [c, cancel_child] = weft::with_cancel_cause(p);
                 cancel_child(child_cause);
                 cancel_parent();
                 return c;
             },
             canceled, child_cause},
            {"grandchild through a value node",
             [] {
                 auto [p, cancel_parent] = weft::with_cancel_cause(weft::background());
                 const auto v = weft::with_value(p, k1, 1);
                 auto [c, cancel_child] = weft::with_cancel(v);
                 cancel_parent(parent_cause);
                 (void)cancel_child;
                 return c;
             },
             canceled, parent_cause},
            {"with_timeout(0)",
             [] {
                 auto [c, cancel] = weft::with_timeout(weft::background(), 0s);
                 cancel();
                 return c;
             },
             deadline_exceeded, deadline_exceeded},
            {"with_timeout cancelled",
             [] {
                 auto [c, cancel] = weft::with_timeout(weft::background(), very_long);
                 cancel();
                 return c;
             },
             canceled, canceled},
            {"with_timeout(0) under a cause-cancelled parent",
             [] {
                 auto [p, cancel] = weft::with_cancel_cause(weft::background());
                 auto [c, stop] = weft::with_timeout(p, 0s);
                 cancel(other_cause);
                 (void)stop;
                 return c;
             },
             deadline_exceeded, deadline_exceeded},
            {"with_timeout under a cause-cancelled parent",
             [] {
                 auto [p, cancel] = weft::with_cancel_cause(weft::background());
                 auto [c, stop] = weft::with_timeout(p, very_long);
                 cancel(other_cause);
                 (void)stop;
                 return c;
             },
             canceled, other_cause},
            {"without_cancel", [] { return weft::without_cancel(weft::background()); }, {}, {}},
            {"without_cancel of a cancelled context",
             [] {
                 auto [p, cancel] = weft::with_cancel_cause(weft::background());
                 const auto c = weft::without_cancel(p);
                 cancel(other_cause);
                 return c;
             },
             {},
             {}},
            {"without_cancel of an expired context",
             [] {
                 auto [p, cancel] = weft::with_timeout(weft::background(), 0s);
                 const auto c = weft::without_cancel(p);
                 cancel();
                 return c;
             },
             {},
             {}},
        };
        // with_timeout needs a runtime.
        weft::run(weft::options{.workers = 1}, []() -> weft::task<> {
            for (const row& r : rows) {
                CAPTURE(r.name);
                const weft::context c = r.make();
                CHECK(c.err() == r.err);
                CHECK(c.cause() == r.cause);
            }
            co_return;
        });
    }

    TEST_CASE("a cause set on another thread is seen whole by a task polling cause() (TestCauseRace)") {
        for (int round = 0; round < 20; ++round) {
            auto [ctx, cancel] = weft::with_cancel_cause(weft::background());
            const std::error_code seen = weft::run(
                weft::options{.workers = 2},
                [](weft::context c, weft::cancel_cause_func f) -> weft::task<std::error_code> {
                    std::thread canceller([f] { f(parent_cause); });
                    std::error_code e;
                    for (;;) {
                        e = c.cause();
                        if (e) break;
                        co_await weft::yield();
                    }
                    canceller.join();
                    co_return e;
                },
                ctx, cancel);
            CHECK(seen == parent_cause);
        }
    }

    TEST_CASE("a 100-node tree cancelled from many threads and tasks at once (TestSimultaneousCancels)") {
        const std::size_t rounds = weft_test::scaled(50, 5);
        struct outcome {
            std::size_t nodes = 0, stuck = 0, wrong_err = 0;
        };
        for (std::size_t round = 0; round < rounds; ++round) {
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t seed) -> weft::task<outcome> {
                    outcome out;
                    std::vector<node> tree = make_tree(100);
                    out.nodes = tree.size();
                    std::shuffle(tree.begin(), tree.end(), std::minstd_rand(static_cast<std::uint32_t>(seed) + 1));
                    // Half the cancels from plain threads, half from tasks, all released at once.
                    std::atomic<bool> start{false};
                    std::vector<std::thread> threads;
                    constexpr std::size_t thread_count = 4;
                    const std::size_t per_thread = tree.size() / 2 / thread_count;
                    for (std::size_t t = 0; t < thread_count; ++t) {
                        std::vector<weft::cancel_func> mine;
                        for (std::size_t i = t * per_thread; i < (t + 1) * per_thread; ++i)
                            mine.push_back(tree[i].cancel);
                        threads.emplace_back([&start, cancels = std::move(mine)] {
                            while (!start.load())
                                std::this_thread::yield();
                            for (const auto& cancel : cancels)
                                cancel();
                        });
                    }
                    weft::wait_group cancellers;  // `start` lives in this frame: wait for its readers
                    for (std::size_t i = thread_count * per_thread; i < tree.size(); ++i)
                        cancellers.go(cancel_in_task, tree[i].cancel, std::cref(start));
                    start.store(true);
                    // Wait on every context, in a random order.
                    for (const auto& n : tree) {
                        if (!co_await done_within(n.ctx, quiescent)) ++out.stuck;
                        if (n.ctx.err() != weft::errc::canceled) ++out.wrong_err;
                    }
                    for (auto& t : threads)
                        t.join();
                    co_await cancellers.wait();
                    co_return out;
                },
                round);
            CHECK(o.nodes >= 100);
            CHECK(o.stuck == 0);
            CHECK(o.wrong_err == 0);
            if (o.stuck != 0 || o.wrong_err != 0) break;
        }
    }

    TEST_CASE("a task cancelling the child once the parent is done does not deadlock (TestInterlockedCancels)") {
        const bool done = weft::run(weft::options{.workers = 2}, []() -> weft::task<bool> {
            auto [parent, cancel_parent] = weft::with_cancel(weft::background());
            auto [child, cancel_child] = weft::with_cancel(parent);
            weft::go(
                [](weft::context p, weft::cancel_func cancel) -> weft::task<> {
                    co_await p.wait();
                    cancel();
                },
                parent, cancel_child);
            cancel_parent();
            co_return co_await done_within(child, quiescent);
        });
        CHECK(done);
    }

    TEST_CASE(
        "deriving from a parent being cancelled concurrently gives a cancelled child with its cause "
        "(TestWithCancelSimultaneouslyCanceledParent)") {
        // A thread cancels each parent while the child is being derived from it: with_cancel,
        // with_cancel_cause and with_timeout (whose deadline timer is armed then). The race
        // window is narrow, so the count stays high under sanitizers.
        const int rounds = static_cast<int>(weft_test::scaled(5000, 5000));
        struct outcome {
            int stuck = 0, wrong_err = 0, wrong_cause = 0;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [](int n) -> weft::task<outcome> {
                outcome out;
                for (int i = 0; i < n; ++i) {
                    auto [parent, cancel_parent] = weft::with_cancel_cause(weft::background());
                    const int spins = (i * 7919) % 2000;  // lands the cancel anywhere in the derivation
                    std::thread canceller([cancel = cancel_parent, spins] {
                        std::atomic<int> sink{0};
                        for (int k = 0; k < spins; ++k)
                            sink.fetch_add(1, std::memory_order_relaxed);
                        cancel(parent_cause);
                    });
                    weft::context child;
                    switch (i % 3) {
                        case 0:
                            child = weft::with_cancel(parent).ctx;
                            break;
                        case 1:
                            child = weft::with_cancel_cause(parent).ctx;
                            break;
                        default:
                            child = weft::with_timeout(parent, very_long).ctx;
                            break;
                    }
                    canceller.join();
                    if (!co_await is_done(child)) ++out.stuck;  // cancel() has returned: done is closed
                    if (child.err() != weft::errc::canceled) ++out.wrong_err;
                    if (child.cause() != parent_cause) ++out.wrong_cause;
                }
                co_return out;
            },
            rounds);
        CHECK(o.stuck == 0);
        CHECK(o.wrong_err == 0);
        CHECK(o.wrong_cause == 0);
    }

    // ---- deadlines ----------------------------------------------------------------------------

    TEST_CASE(
        "a deadline passes: done closes with deadline_exceeded, also through layers (TestDeadline, TestTimeout)") {
        struct outcome {
            int stuck = 0, wrong_err = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto check = [&out](const weft::context& c, bool in_time) {
                if (!in_time) ++out.stuck;
                if (c.err() != weft::errc::deadline_exceeded) ++out.wrong_err;
            };
            {
                auto [c, cancel] = weft::with_deadline(weft::background(), steady::now() + 1ms);
                check(c, co_await done_within(c, quiescent));
            }
            {
                auto [c, cancel] = weft::with_timeout(weft::background(), 1ms);
                check(c, co_await done_within(c, quiescent));
            }
            {  // a short parent under a long child: the child ends with the parent's reason
                auto [p, cancel_p] = weft::with_timeout(weft::background(), 1ms);
                const auto v = weft::with_value(p, k1, 1);
                auto [c, cancel] = weft::with_deadline(v, steady::now() + very_long);
                check(c, co_await done_within(c, quiescent));
            }
            co_return out;
        });
        CHECK(o.stuck == 0);
        CHECK(o.wrong_err == 0);
    }

    TEST_CASE("a deadline in the past, or now, gives a context already done with deadline_exceeded") {
        struct outcome {
            int not_done = 0, wrong_err = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            const std::vector<weft::context> contexts{
                weft::with_deadline(weft::background(), steady::now() - 1ms).ctx,
                weft::with_deadline(weft::background(), steady::now()).ctx,
                weft::with_deadline(weft::background(), time_point::min()).ctx,
                weft::with_timeout(weft::background(), 0s).ctx,
                weft::with_timeout(weft::background(), -1h).ctx,
                weft::with_timeout(weft::with_cancel(weft::background()).ctx, -1ms).ctx,
            };
            for (const auto& c : contexts) {
                // Already done when with_deadline returns: no waiting.
                if (c.err() != weft::errc::deadline_exceeded) ++out.wrong_err;
                if (!co_await is_done(c)) ++out.not_done;
            }
            co_return out;
        });
        CHECK(o.not_done == 0);
        CHECK(o.wrong_err == 0);
    }

    TEST_CASE("cancelling a timeout context before its deadline gives canceled (TestCanceledTimeout)") {
        const auto [done, err] =
            weft::run(weft::options{.workers = 2}, []() -> weft::task<std::pair<bool, std::error_code>> {
                auto [p, stop] = weft::with_timeout(weft::background(), 1s);
                auto [c, cancel] = weft::with_timeout(weft::with_value(p, k1, 1), very_long);
                cancel();  // propagates synchronously
                const bool d = co_await is_done(c);
                stop();
                co_return std::pair{d, c.err()};
            });
        CHECK(done);
        CHECK(err == weft::errc::canceled);
    }

    TEST_CASE("a child's deadline is never later than its parent's") {
        struct outcome {
            std::optional<time_point> parent, later_timeout, later_deadline, sooner, cancel_child, value_child, without;
            time_point sooner_asked{};
            std::error_code later_err;
            bool later_not_early = false;
            std::error_code parent_err_when_sooner_done;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [p, cancel] = weft::with_timeout(weft::background(), 200ms);
            out.parent = p.deadline();
            auto [later, cancel_later] = weft::with_timeout(p, 1h);
            out.later_timeout = later.deadline();
            out.later_deadline = weft::with_deadline(p, steady::now() + 1h).ctx.deadline();
            out.sooner_asked = steady::now() + 20ms;
            auto [sooner, cancel_sooner] = weft::with_deadline(p, out.sooner_asked);
            out.sooner = sooner.deadline();
            out.cancel_child = weft::with_cancel(p).ctx.deadline();
            out.value_child = weft::with_value(p, k1, 1).deadline();
            out.without = weft::without_cancel(p).deadline();
            // The sooner child ends first, alone; the later child ends with the parent.
            co_await sooner.wait();
            // Conclusive only while the parent's own deadline has not passed (a stalled machine).
            const std::error_code parent_err = p.err();  // read before the clock: see below
            if (steady::now() < *out.parent) out.parent_err_when_sooner_done = parent_err;
            out.later_err = co_await later.wait();
            out.later_not_early = out.parent && steady::now() >= *out.parent;
            co_return out;
        });
        REQUIRE(o.parent.has_value());
        CHECK(o.later_timeout == o.parent);
        CHECK(o.later_deadline == o.parent);
        CHECK(o.sooner == o.sooner_asked);
        CHECK(o.sooner < o.parent);
        CHECK(o.cancel_child == o.parent);
        CHECK(o.value_child == o.parent);
        CHECK_FALSE(o.without.has_value());
        CHECK_FALSE(o.parent_err_when_sooner_done);
        CHECK(o.later_err == weft::errc::deadline_exceeded);
        CHECK(o.later_not_early);
    }

    TEST_CASE("a deadline racing with cancel: exactly one reason wins, and it is also the cause") {
        const std::size_t rounds = weft_test::scaled(2000, 200);
        struct outcome {
            std::size_t canceled = 0, expired = 0, wrong = 0, stuck = 0;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [](std::size_t n) -> weft::task<outcome> {
                outcome out;
                std::minstd_rand rnd(7);
                for (std::size_t i = 0; i < n; ++i) {
                    auto [c, cancel] = weft::with_timeout(weft::background(), std::chrono::microseconds(rnd() % 600));
                    weft::go(
                        [](weft::cancel_func f, std::chrono::microseconds after) -> weft::task<> {
                            co_await weft::sleep_for(after);
                            f();
                        },
                        cancel, std::chrono::microseconds(rnd() % 600));
                    if (!co_await done_within(c, quiescent)) ++out.stuck;
                    const std::error_code e = c.err();
                    if (e == weft::errc::canceled) {
                        ++out.canceled;
                    } else if (e == weft::errc::deadline_exceeded) {
                        ++out.expired;
                    } else {
                        ++out.wrong;
                    }
                    if (c.cause() != e) ++out.wrong;
                }
                co_return out;
            },
            rounds);
        CHECK(o.stuck == 0);
        CHECK(o.wrong == 0);
        CHECK(o.canceled + o.expired == rounds);
    }

    // ---- layers -----------------------------------------------------------------------------

    TEST_CASE(
        "layers of values, cancels and timeouts: any cancel ends the innermost context, values survive "
        "(TestLayersCancel, TestLayersTimeout)") {
        for (const bool test_timeout : {false, true}) {
            const auto seed = static_cast<std::uint32_t>(steady::now().time_since_epoch().count());
            CAPTURE(test_timeout);
            CAPTURE(seed);
            struct outcome {
                int layers = 0, timers = 0, wrong_values = 0;
                bool done_early = true, done = false;
                std::error_code err;
                bool deadline_is_earliest = false;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](bool timeout, std::uint32_t s) -> weft::task<outcome> {
                    outcome out;
                    std::minstd_rand rnd(s);
                    std::vector<std::unique_ptr<int>> keys;  // their addresses are the keys and the values
                    std::vector<weft::cancel_func> cancels;
                    std::optional<time_point> earliest;
                    weft::context ctx = weft::background();
                    for (int i = 0; i < 30 || out.timers == 0 || cancels.empty() || keys.empty(); ++i) {
                        switch (rnd() % 3) {
                            case 0: {
                                keys.push_back(std::make_unique<int>(i));
                                ctx = weft::with_value(ctx, keys.back().get(), keys.back().get());
                                break;
                            }
                            case 1: {
                                auto [c, cancel] = weft::with_cancel(ctx);
                                ctx = c;
                                cancels.push_back(cancel);
                                break;
                            }
                            default: {
                                const steady::duration d =
                                    timeout ? steady::duration(1ms) : steady::duration(very_long);
                                auto [c, cancel] = weft::with_timeout(ctx, d);
                                if (!earliest || c.deadline() < earliest) earliest = c.deadline();
                                ctx = c;
                                cancels.push_back(cancel);
                                ++out.timers;
                                break;
                            }
                        }
                        ++out.layers;
                    }
                    auto check_values = [&out, &keys, &ctx] {
                        for (const auto& k : keys) {
                            if (ctx.value<int*>(k.get()) != k.get()) ++out.wrong_values;
                        }
                    };
                    out.deadline_is_earliest = ctx.deadline() == earliest;
                    if (!timeout) out.done_early = co_await is_done(ctx);
                    check_values();
                    if (timeout) {
                        out.done = co_await done_within(ctx, quiescent);
                    } else {
                        cancels[rnd() % cancels.size()]();
                        out.done = co_await is_done(ctx);
                    }
                    out.err = ctx.err();
                    check_values();
                    for (const auto& cancel : cancels)
                        cancel();
                    co_return out;
                },
                test_timeout, seed);
            CHECK(o.layers >= 30);
            CHECK(o.wrong_values == 0);
            CHECK(o.deadline_is_earliest);
            if (!test_timeout) CHECK_FALSE(o.done_early);
            CHECK(o.done);
            CHECK(o.err == (test_timeout ? deadline_exceeded : canceled));
        }
    }

    // ---- values -----------------------------------------------------------------------------

    TEST_CASE("values are found through layers, shadowed by nearer ones, and typed (TestValues)") {
        const weft::context c0 = weft::background();
        CHECK(values_are(c0, "", "", ""));
        const weft::context c1 = weft::with_value(weft::background(), k1, std::string("c1k1"));
        CHECK(values_are(c1, "c1k1", "", ""));
        const weft::context c2 = weft::with_value(c1, k2, std::string("c2k2"));
        CHECK(values_are(c2, "c1k1", "c2k2", ""));
        const weft::context c3 = weft::with_value(c2, k3, std::string("c3k3"));
        CHECK(values_are(c3, "c1k1", "c2k2", "c3k3"));
        // Go's WithValue(c3, k1, nil): a nearer binding of k1 that is not a string hides c1's.
        const weft::context c4 = weft::with_value(c3, k1, nullptr);
        CHECK(values_are(c4, "", "c2k2", "c3k3"));
        CHECK(c4.value<std::nullptr_t>(k1).has_value());

        // Through cancel nodes and without_cancel.
        auto [cc, cancel] = weft::with_cancel(c3);
        const weft::context o2 = weft::with_value(weft::without_cancel(cc), k2, std::string("o2k2"));
        CHECK(values_are(o2, "c1k1", "o2k2", "c3k3"));
        const weft::context o4 = weft::with_value(weft::with_cancel(c4).ctx, k3, 0);
        CHECK(values_are(o4, "", "c2k2", ""));
        cancel();
        CHECK(values_are(o2, "c1k1", "o2k2", "c3k3"));  // cancellation does not drop values

        // The type asked for must be the stored type exactly.
        const weft::context typed = weft::with_value(weft::background(), std::string("n"), 42);
        CHECK(typed.value<int>(std::string("n")) == 42);
        CHECK_FALSE(typed.value<long>(std::string("n")).has_value());
        CHECK_FALSE(typed.value<std::string>(std::string("n")).has_value());
        CHECK_FALSE(typed.value<int>(std::string("m")).has_value());  // absent key
        // Keys of different types never match, even with equal contents.
        const weft::context by_int = weft::with_value(weft::background(), 7, std::string("int"));
        CHECK(by_int.value<std::string>(7) == "int");
        CHECK_FALSE(by_int.value<std::string>(7L).has_value());
        CHECK_FALSE(by_int.value<std::string>(7U).has_value());
        // The usual idiom: a pointer to a static object.
        const weft::context user = weft::with_value(weft::background(), &user_key, std::string("alice"));
        CHECK(user.value<std::string>(&user_key) == "alice");
        static const int other_key = 0;
        CHECK_FALSE(user.value<std::string>(&other_key).has_value());
    }

    TEST_CASE("values are copied in and out: a stored value outlives the caller's object") {
        std::optional<weft::context> ctx;
        {
            auto owned = std::make_shared<std::string>("shared");
            ctx = weft::with_value(weft::background(), k1, owned);
        }
        const auto v = ctx->value<std::shared_ptr<std::string>>(k1);
        REQUIRE(v.has_value());
        REQUIRE(*v != nullptr);
        CHECK(**v == "shared");
    }

    TEST_CASE("without_cancel keeps values but neither cancellation nor deadline (TestWithoutCancel)") {
        struct outcome {
            bool nil_done = false, no_deadline = false, has_value = false, done_after = true, err_after = true;
            bool child_independent = false, child_own_deadline = false;
            std::error_code child_err;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [p, cancel] = weft::with_timeout(weft::background(), 1h);
            const weft::context parent = weft::with_value(p, k1, std::string("value"));
            const weft::context wc = weft::without_cancel(parent);
            out.nil_done = wc.done().is_nil();
            out.no_deadline = !wc.deadline().has_value();
            out.has_value = value_of(wc, k1) == "value";
            auto [child, cancel_child] = weft::with_timeout(wc, 10ms);
            out.child_own_deadline = child.deadline() && parent.deadline() && *child.deadline() < *parent.deadline();
            cancel();
            out.done_after = co_await is_done(wc);
            out.err_after = static_cast<bool>(wc.err()) || static_cast<bool>(wc.cause());
            out.child_independent = !child.err() || child.err() == weft::errc::deadline_exceeded;
            out.child_err = co_await child.wait();  // ends by its own deadline, not the parent's cancel
            co_return out;
        });
        CHECK(o.nil_done);
        CHECK(o.no_deadline);
        CHECK(o.has_value);
        CHECK_FALSE(o.done_after);
        CHECK_FALSE(o.err_after);
        CHECK(o.child_own_deadline);
        CHECK(o.child_independent);
        CHECK(o.child_err == weft::errc::deadline_exceeded);
    }

    // ---- after_func -------------------------------------------------------------------------

    TEST_CASE(
        "after_func runs once the context is cancelled, not before; stop afterwards returns false "
        "(TestAfterFuncCalledAfterCancel)") {
        struct outcome {
            bool before = true, after = false, stop_after = true;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            auto ran = weft::make_chan<int>(1);
            auto h = weft::after_func(ctx, [ran] { (void)ran.try_send(1); });
            co_await weft::sleep_for(5ms);
            out.before = ran.try_recv().has_value();
            cancel();
            out.after = co_await value_within(ran, quiescent);
            out.stop_after = h.stop();
            co_return out;
        });
        CHECK_FALSE(o.before);
        CHECK(o.after);
        CHECK_FALSE(o.stop_after);
    }

    TEST_CASE("after_func runs when a timeout expires (TestAfterFuncCalledAfterTimeout)") {
        const bool ran = weft::run(weft::options{.workers = 2}, []() -> weft::task<bool> {
            auto [ctx, cancel] = weft::with_timeout(weft::background(), 1ms);
            auto c = weft::make_chan<int>(1);
            auto h = ctx.after_func([c] { (void)c.try_send(1); });  // the member form
            const bool r = co_await value_within(c, quiescent);
            cancel();
            co_return r;
        });
        CHECK(ran);
    }

    TEST_CASE("after_func on a context already done runs at once (TestAfterFuncCalledImmediately)") {
        const bool ran = weft::run(weft::options{.workers = 2}, []() -> weft::task<bool> {
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            cancel();
            auto c = weft::make_chan<int>(1);
            auto h = weft::after_func(weft::with_value(ctx, k1, 1), [c] { (void)c.try_send(1); });
            const bool r = co_await value_within(c, quiescent);
            co_return r && !h.stop();
        });
        CHECK(ran);
    }

    TEST_CASE(
        "after_func stopped before the cancel never runs; stop is true once, then false "
        "(TestAfterFuncNotCalledAfterStop)") {
        struct outcome {
            bool first = false, ran = true, second = true;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            auto c = weft::make_chan<int>(1);
            auto h = weft::after_func(ctx, [c] { (void)c.try_send(1); });
            out.first = h.stop();
            cancel();
            co_await weft::sleep_for(20ms);
            out.ran = c.try_recv().has_value();
            out.second = h.stop();
            co_return out;
        });
        CHECK(o.first);
        CHECK_FALSE(o.ran);
        CHECK_FALSE(o.second);
    }

    TEST_CASE(
        "cancel does not wait for after_func callbacks: they run as their own tasks "
        "(TestAfterFuncCalledAsynchronously)") {
        const auto [got, returned] = weft::run(weft::options{.workers = 1}, []() -> weft::task<std::pair<bool, bool>> {
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            auto donec = weft::make_chan<int>();  // unbuffered: the callback blocks until we receive
            auto h = weft::after_func(ctx, [donec]() -> weft::task<> { co_await donec.send(1); });
            cancel();  // on a single worker: would never return if it ran the callback inline
            const bool cancel_returned = true;
            const bool r = co_await value_within(donec, quiescent);
            co_return std::pair{r, cancel_returned};
        });
        CHECK(got);
        CHECK(returned);
    }

    TEST_CASE("after_func on a context that can never be cancelled never runs") {
        const bool ran = weft::run(weft::options{.workers = 2}, []() -> weft::task<bool> {
            auto c = weft::make_chan<int>(1);
            auto h1 = weft::after_func(weft::background(), [c] { (void)c.try_send(1); });
            auto [p, cancel] = weft::with_cancel(weft::background());
            auto h2 = weft::after_func(weft::without_cancel(p), [c] { (void)c.try_send(2); });
            cancel();
            co_await weft::sleep_for(20ms);
            co_return c.try_recv().has_value();
        });
        CHECK_FALSE(ran);
    }

    TEST_CASE(
        "after_func stop racing cancel: either stop returns true or the function runs, never both, never neither") {
        const std::size_t n = weft_test::scaled(1000, 100);
        struct outcome {
            std::size_t stopped = 0, ran = 0, both = 0, neither = 0;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [](std::size_t count) -> weft::task<outcome> {
                outcome out;
                for (std::size_t i = 0; i < count; ++i) {
                    auto [ctx, cancel] = weft::with_cancel(weft::background());
                    auto ran = weft::make_chan<int>(1);
                    auto h = weft::after_func(ctx, [ran] { (void)ran.try_send(1); });
                    std::thread canceller([cancel = cancel] { cancel(); });
                    const bool stopped = h.stop();
                    canceller.join();
                    if (stopped) {
                        co_await weft::sleep_for(0ns);  // a call started anyway would show up now
                        if (ran.try_recv()) ++out.both;
                        ++out.stopped;
                    } else {
                        // Not prevented: cancel started the call; wait for it.
                        const bool did_run = co_await value_within(ran, quiescent);
                        if (did_run) {
                            ++out.ran;
                        } else {
                            ++out.neither;
                        }
                    }
                }
                co_return out;
            },
            n);
        CHECK(o.both == 0);
        CHECK(o.neither == 0);
        CHECK(o.stopped + o.ran == n);
    }

    // ---- the cost of children -------------------------------------------------------------------

    TEST_CASE("dropping every handle to a child frees it, with its values and after_func callbacks") {
        std::atomic<long> live{0};
        auto [parent, cancel_parent] = weft::with_cancel(weft::background());
        for (int i = 0; i < 1000; ++i) {
            auto [child, cancel] = weft::with_cancel(parent);
            const weft::context v = weft::with_value(child, &user_key, weft_test::probe(live));
            auto h = weft::after_func(v, [p = weft_test::probe(live)] {});
            (void)h;
            (void)cancel;
        }
        CHECK(live.load() == 0);
        cancel_parent();  // walks the children list: a stale entry would be a use after free
        CHECK(live.load() == 0);
    }

    TEST_CASE("a million short-lived children do not grow a long-lived parent (cancelled, or just dropped)") {
        const std::size_t n = weft_test::scaled(1'000'000, 10'000);
        REQUIRE(weft_test::rss_bytes() > 0);
        struct outcome {
            double cancelled_mb = 0, dropped_mb = 0, timeouts_mb = 0;
            bool parent_alive = false;
            bool parent_cancels = false;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [](std::size_t count) -> weft::task<outcome> {
                outcome out;
                auto [parent, cancel_parent] = weft::with_cancel(weft::background());
                const weft::context p = parent;
                const auto churn = [&p](std::size_t k, int how) {
                    for (std::size_t i = 0; i < k; ++i) {
                        if (how == 0) {
                            weft::with_cancel(p).cancel();
                        } else if (how == 1) {
                            const auto dropped = weft::with_cancel(p);  // never cancelled
                        } else {
                            const auto child = weft::with_timeout(p, 1h);
                            if (i % 2 == 0) child.cancel();
                        }
                    }
                };
                auto grown_mb = [](std::size_t before) {
                    const std::size_t after = weft_test::rss_bytes();
                    return after > before ? static_cast<double>(after - before) / (1024.0 * 1024.0) : 0.0;
                };
                churn(10'000, 0);  // warm up the allocator
                churn(10'000, 1);
                churn(10'000, 2);
                std::size_t before = weft_test::rss_bytes();
                churn(count, 0);
                out.cancelled_mb = grown_mb(before);
                before = weft_test::rss_bytes();
                churn(count, 1);
                out.dropped_mb = grown_mb(before);
                before = weft_test::rss_bytes();
                churn(count / 4, 2);
                out.timeouts_mb = grown_mb(before);
                out.parent_alive = !parent.err();
                cancel_parent();
                out.parent_cancels = co_await is_done(parent);
                co_return out;
            },
            n);
        MESSAGE("RSS growth over " << n << " children: cancelled " << o.cancelled_mb << " MB, dropped " << o.dropped_mb
                                   << " MB, with_timeout " << o.timeouts_mb << " MB");
        CHECK(o.parent_alive);
        CHECK(o.parent_cancels);
#if !WEFT_TEST_SANITIZED  // a sanitizer's quarantine holds freed memory on purpose
        CHECK(o.cancelled_mb < 50.0);
        CHECK(o.dropped_mb < 50.0);
        CHECK(o.timeouts_mb < 50.0);
#endif
    }

    // ---- waits ------------------------------------------------------------------------------

    TEST_CASE("ctx.wait() completes with err() once the context ends, at once if it already has") {
        struct outcome {
            std::error_code cancelled, expired, already;
            double expired_after = -1;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            weft::go(
                [](weft::cancel_func f) -> weft::task<> {
                    co_await weft::sleep_for(5ms);
                    f();
                },
                cancel);
            out.cancelled = co_await ctx.wait();
            const time_point start = steady::now();
            auto [t, stop] = weft::with_timeout(weft::background(), 20ms);
            out.expired = co_await t.wait();
            out.expired_after = ms_since(start);
            out.already = co_await ctx.wait();
            stop();
            co_return out;
        });
        CHECK(o.cancelled == weft::errc::canceled);
        CHECK(o.expired == weft::errc::deadline_exceeded);
        CHECK(o.expired_after >= 20.0);
        CHECK(o.already == weft::errc::canceled);
    }

    TEST_CASE("cancelling a context with 100,000 waiters wakes them all (ctx.wait() and select on done())") {
        const std::size_t n = weft_test::scaled(100'000, 1000);
        waiter_tally tally;
        const bool stuck = weft::run(
            weft::options{.workers = 2},
            [](std::size_t count, waiter_tally& t) -> weft::task<bool> {
                auto [ctx, cancel] = weft::with_cancel(weft::background());
                weft::wait_group wg;
                for (std::size_t i = 0; i < count; ++i)
                    wg.go(wait_on_context, weft::with_value(ctx, k1, 1), i % 2 == 0, std::ref(t));
                co_await weft::sleep_for(10ms);
                const bool early = t.woke.load() != 0;
                cancel();
                co_await wg.wait();
                co_return early;
            },
            n, std::ref(tally));
        CHECK_FALSE(stuck);
        CHECK(tally.woke.load() == n);
        CHECK(tally.wrong_err.load() == 0);
    }

    TEST_CASE("1,000 waiters stopped by one timeout (docs/examples/context_cancel.cpp)") {
        const auto [stopped, message] =
            weft::run(weft::options{.workers = 2}, []() -> weft::task<std::pair<int, std::string>> {
                auto [ctx, cancel] = weft::with_timeout(weft::background(), 50ms);
                std::atomic<int> count = 0;
                weft::wait_group wg;
                for (int i = 0; i < 1000; ++i)
                    wg.go(wait_for_stop, ctx, std::ref(count));
                co_await wg.wait();
                cancel();
                co_return std::pair{count.load(), ctx.err().message()};
            });
        CHECK(stopped == 1000);
        CHECK(message == "context deadline exceeded");
    }

    TEST_CASE(
        "sleep_for(d, ctx) returns ctx.err() when the context ends first, and an empty code when it slept fully") {
        struct outcome {
            std::error_code cut, full, bg, already, expired, detached;
            double cut_ms = -1, full_ms = -1, bg_ms = -1, already_ms = -1, expired_ms = -1, detached_ms = -1;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            {
                auto [ctx, cancel] = weft::with_cancel(weft::background());
                const time_point start = steady::now();
                weft::go(
                    [](weft::cancel_func f) -> weft::task<> {
                        co_await weft::sleep_for(20ms);
                        f();
                    },
                    cancel);
                out.cut = co_await weft::sleep_for(10s, ctx);
                out.cut_ms = ms_since(start);
            }
            {
                auto [ctx, cancel] = weft::with_cancel(weft::background());
                const time_point start = steady::now();
                out.full = co_await weft::sleep_for(30ms, ctx);
                out.full_ms = ms_since(start);
                cancel();
                const time_point again = steady::now();
                out.already = co_await weft::sleep_for(10s, ctx);
                out.already_ms = ms_since(again);
            }
            {
                const time_point start = steady::now();
                out.bg = co_await weft::sleep_for(20ms, weft::background());
                out.bg_ms = ms_since(start);
            }
            {
                const time_point start = steady::now();
                auto [ctx, cancel] = weft::with_timeout(weft::background(), 20ms);
                out.expired = co_await weft::sleep_for(10s, ctx);
                out.expired_ms = ms_since(start);
                cancel();
            }
            {
                auto [ctx, cancel] = weft::with_cancel(weft::background());
                cancel();
                const time_point start = steady::now();
                out.detached = co_await weft::sleep_for(20ms, weft::without_cancel(ctx));
                out.detached_ms = ms_since(start);
            }
            co_return out;
        });
        CHECK(o.cut == weft::errc::canceled);
        CHECK(o.cut_ms >= 20.0);
        CHECK(o.cut_ms < 5000.0);
        CHECK_FALSE(o.full);
        CHECK(o.full_ms >= 30.0);
        CHECK(o.already == weft::errc::canceled);
        CHECK(o.already_ms < 5000.0);
        CHECK_FALSE(o.bg);
        CHECK(o.bg_ms >= 20.0);
        CHECK(o.expired == weft::errc::deadline_exceeded);
        CHECK(o.expired_ms >= 20.0);
        CHECK(o.expired_ms < 5000.0);
        CHECK_FALSE(o.detached);
        CHECK(o.detached_ms >= 20.0);
    }

    TEST_CASE("ch.recv(ctx) gives the value, or err when the context ends first") {
        struct outcome {
            std::optional<int> value, view_value, late_value;
            std::error_code value_err, view_err, late_err;
            std::optional<int> timed_out_value;
            std::error_code timed_out_err;
            std::optional<int> closed_value;
            std::error_code closed_err;
            std::optional<int> cancelled_value;
            std::error_code cancelled_err;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            {
                auto c = weft::make_chan<int>(1);
                co_await c.send(5);
                auto r = co_await c.recv(ctx);
                out.value = r.value;
                out.value_err = r.err;
            }
            {
                auto c = weft::make_chan<int>();
                const weft::recv_chan<int> view = c;
                weft::go(
                    [](weft::send_chan<int> s) -> weft::task<> {
                        co_await weft::sleep_for(5ms);
                        co_await s.send(6);
                    },
                    c);
                auto r = co_await view.recv(ctx);
                out.view_value = r.value;
                out.view_err = r.err;
            }
            {
                auto c = weft::make_chan<int>();
                weft::go(
                    [](weft::chan<int> s) -> weft::task<> {
                        co_await weft::sleep_for(5ms);
                        co_await s.send(7);
                    },
                    c);
                auto r = co_await c.recv(weft::background());
                out.late_value = r.value;
                out.late_err = r.err;
            }
            {
                auto c = weft::make_chan<int>();
                auto [t, stop] = weft::with_timeout(ctx, 10ms);
                auto r = co_await c.recv(t);
                out.timed_out_value = r.value;
                out.timed_out_err = r.err;
                stop();
            }
            {
                auto c = weft::make_chan<int>();
                c.close();
                auto r = co_await c.recv(ctx);
                out.closed_value = r.value;
                out.closed_err = r.err;
            }
            {
                auto c = weft::make_chan<int>();
                weft::go(
                    [](weft::cancel_func f) -> weft::task<> {
                        co_await weft::sleep_for(5ms);
                        f();
                    },
                    cancel);
                auto r = co_await c.recv(ctx);
                out.cancelled_value = r.value;
                out.cancelled_err = r.err;
            }
            co_return out;
        });
        CHECK(o.value == 5);
        CHECK_FALSE(o.value_err);
        CHECK(o.view_value == 6);
        CHECK_FALSE(o.view_err);
        CHECK(o.late_value == 7);
        CHECK_FALSE(o.late_err);
        CHECK_FALSE(o.timed_out_value.has_value());
        CHECK(o.timed_out_err == weft::errc::deadline_exceeded);
        CHECK_FALSE(o.closed_value.has_value());  // closed: no value and no error
        CHECK_FALSE(o.closed_err);
        CHECK_FALSE(o.cancelled_value.has_value());
        CHECK(o.cancelled_err == weft::errc::canceled);
    }

    TEST_CASE("ch.send(v, ctx) delivers the value, or returns err without delivering when the context ends first") {
        struct outcome {
            std::error_code sent_err, view_err, timed_out_err, full_err, cancelled_err;
            std::optional<int> received, view_received, leaked_unbuffered, full_contents, leaked_cancelled;
            bool closed_threw = false;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            outcome out;
            auto [ctx, cancel] = weft::with_cancel(weft::background());
            {
                auto c = weft::make_chan<int>();
                auto got = weft::make_chan<int>(1);
                weft::go(
                    [](weft::chan<int> in, weft::chan<int> report) -> weft::task<> {
                        const auto v = co_await in.recv();
                        co_await report.send(v.value_or(-1));
                    },
                    c, got);
                out.sent_err = co_await c.send(1, ctx);
                out.received = co_await got.recv();
            }
            {
                auto c = weft::make_chan<int>(1);
                const weft::send_chan<int> view = c;
                out.view_err = co_await view.send(2, ctx);
                out.view_received = c.try_recv();
            }
            {
                auto c = weft::make_chan<int>();  // nobody receives
                auto [t, stop] = weft::with_timeout(ctx, 10ms);
                out.timed_out_err = co_await c.send(3, t);
                out.leaked_unbuffered = c.try_recv();
                stop();
            }
            {
                auto c = weft::make_chan<int>(1);
                co_await c.send(4);  // full
                auto [t, stop] = weft::with_timeout(ctx, 10ms);
                out.full_err = co_await c.send(5, t);
                out.full_contents = c.try_recv();
                if (auto extra = c.try_recv()) out.full_contents = -*extra;  // 5 must not be there
                stop();
            }
            {
                auto c = weft::make_chan<int>();
                c.close();
                try {
                    (void)co_await c.send(6, ctx);
                } catch (const weft::channel_closed&) {
                    out.closed_threw = true;
                }
            }
            {
                auto c = weft::make_chan<int>();
                weft::go(
                    [](weft::cancel_func f) -> weft::task<> {
                        co_await weft::sleep_for(5ms);
                        f();
                    },
                    cancel);
                out.cancelled_err = co_await c.send(7, ctx);
                out.leaked_cancelled = c.try_recv();
            }
            co_return out;
        });
        CHECK_FALSE(o.sent_err);
        CHECK(o.received == 1);
        CHECK_FALSE(o.view_err);
        CHECK(o.view_received == 2);
        CHECK(o.timed_out_err == weft::errc::deadline_exceeded);
        CHECK_FALSE(o.leaked_unbuffered.has_value());
        CHECK(o.full_err == weft::errc::deadline_exceeded);
        CHECK(o.full_contents == 4);
        CHECK(o.closed_threw);
        CHECK(o.cancelled_err == weft::errc::canceled);
        CHECK_FALSE(o.leaked_cancelled.has_value());
    }

    TEST_CASE("a timeout created on a plain thread while every worker is parked still expires") {
        // The deadline is armed off-worker (on shard 0) while the workers sleep with no timer
        // due: arming must wake one of them to shorten its sleep.
        const auto [err, waited] =
            weft::run(weft::options{.workers = 2}, []() -> weft::task<std::pair<std::error_code, double>> {
                auto handoff = weft::make_chan<weft::context>(1);
                std::optional<weft::context_and_cancel<weft::cancel_func>> made;
                const time_point start = steady::now();
                std::thread maker([handoff, &made] {
                    std::this_thread::sleep_for(20ms);  // let every worker park
                    made = weft::with_timeout(weft::background(), 30ms);
                    (void)handoff.try_send(made->ctx);
                });
                const auto ctx = co_await handoff.recv();
                const std::error_code e = co_await ctx->wait();
                const double ms = ms_since(start);
                maker.join();
                co_return std::pair{e, ms};
            });
        CHECK(err == weft::errc::deadline_exceeded);
        CHECK(waited >= 30.0);
        CHECK(waited < 10'000.0);
    }

    TEST_CASE("a timeout too long for the clock never expires") {
        const auto [deadline, done] =
            weft::run(weft::options{.workers = 2}, []() -> weft::task<std::pair<std::optional<time_point>, bool>> {
                auto [ctx, cancel] = weft::with_timeout(weft::background(), steady::duration::max());
                co_await weft::sleep_for(10ms);
                const bool d = co_await is_done(ctx);
                cancel();
                co_return std::pair{ctx.deadline(), d};
            });
        REQUIRE(deadline.has_value());
        CHECK(*deadline > steady::now() + 24h * 365 * 100);
        CHECK_FALSE(done);
    }

    TEST_CASE("a worker parks with only an unbounded timeout armed, and wakes for the cancel") {
        // The one worker parks while the only timer armed is the unbounded deadline, whose
        // wheel slot starts just below the "never" tick: the park's wake-up time must
        // saturate at time_point::max (it overflowed before: UBSan, signed overflow).
        for (int round = 0; round < 5; ++round) {
            const auto [err, ms] =
                weft::run(weft::options{.workers = 1}, []() -> weft::task<std::pair<std::error_code, double>> {
                    auto [ctx, cancel] = weft::with_timeout(weft::background(), steady::duration::max());
                    // A timer firing makes the shard republish its earliest tick from the
                    // wheel: from then on that is the far slot's start, not the sentinel.
                    co_await weft::sleep_for(1ms);
                    const auto start = steady::now();
                    std::thread canceller([cancel = cancel] {
                        std::this_thread::sleep_for(20ms);
                        cancel();
                    });
                    const std::error_code e = co_await ctx.wait();
                    const double waited = ms_since(start);
                    canceller.join();
                    co_return std::pair{e, waited};
                });
            CHECK(err == weft::errc::canceled);
            CHECK(ms >= 19.0);
            CHECK(ms < 10'000.0);
        }
    }

    // ---- without a runtime ------------------------------------------------------------------

    TEST_CASE("cancel contexts and values work outside run(); a timeout needs a runtime (std::logic_error)") {
        auto [ctx, cancel] = weft::with_cancel(weft::background());
        const weft::context v = weft::with_value(ctx, k1, std::string("x"));
        CHECK_FALSE(ctx.done().is_nil());
        CHECK_FALSE(v.err());
        cancel();
        CHECK(v.err() == weft::errc::canceled);
        CHECK(value_of(v, k1) == "x");
        CHECK_THROWS_AS(weft::with_timeout(weft::background(), 1h), std::logic_error);
        CHECK_THROWS_AS(weft::with_deadline(weft::background(), steady::now() + 1h), std::logic_error);
    }

}  // TEST_SUITE("context")
