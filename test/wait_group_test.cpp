// Provides the doctest cases for weft::wait_group (include/weft/wait_group.hpp): counting,
// waiting, wg.go, many waiters, misuse, destruction right after wait, shutdown.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace {

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

weft::task<> finish(weft::wait_group& wg, std::atomic<int>& ran) {
    co_await weft::yield();
    ran.fetch_add(1);
    wg.done();
}

weft::task<> add_index(std::atomic<std::int64_t>& sum, std::int64_t i) {
    sum.fetch_add(i, std::memory_order_relaxed);
    co_return;
}

weft::task<> wait_then_count(weft::wait_group& gate, std::atomic<int>& arrived, std::atomic<int>& released) {
    arrived.fetch_add(1);
    co_await gate.wait();
    released.fetch_add(1);
}

weft::task<> throw_after_yield(int i) {
    co_await weft::yield();
    throw test_error("wg.go task " + std::to_string(i));
}

weft::task<> done_on(weft::wait_group* wg) {
    wg->done();
    co_return;
}
weft::task<> yield_then_done_on(weft::wait_group* wg) {
    co_await weft::yield();
    wg->done();
}
weft::task<> nothing_much() {
    co_return;
}

weft::task<> park_on(weft::wait_group& never, weft_test::probe p) {
    static_cast<void>(p);
    co_await never.wait();
}

}  // namespace

TEST_SUITE("wait_group") {
    TEST_CASE("add, done and wait: wait returns once every done() has been called") {
        std::atomic<int> ran{0};
        const bool ok = weft::run(
            weft::options{.workers = 2},
            [](std::atomic<int>& r) -> weft::task<bool> {
                weft::wait_group wg;
                wg.add(3);
                for (int i = 0; i < 3; ++i)
                    weft::go(finish, std::ref(wg), std::ref(r));
                co_await wg.wait();
                const bool all_ran = r.load() == 3 && wg.count() == 0;
                // A second round on the same group.
                wg.add(2);
                for (int i = 0; i < 2; ++i)
                    weft::go(finish, std::ref(wg), std::ref(r));
                co_await wg.wait();
                co_return all_ran&& r.load() == 5 && wg.count() == 0;
            },
            std::ref(ran));
        CHECK(ok);
    }

    TEST_CASE("count reports the counter") {
        weft::wait_group wg;
        CHECK(wg.count() == 0);
        wg.add(5);
        CHECK(wg.count() == 5);
        wg.done();
        CHECK(wg.count() == 4);
        wg.add(-4);
        CHECK(wg.count() == 0);
        wg.add(0);
        CHECK(wg.count() == 0);
    }

    TEST_CASE("wait on a zero counter completes immediately, without suspending") {
        struct outcome {
            bool ready = false;
            bool other_ran = true;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            outcome result;
            weft::wait_group wg;
            {
                auto w = wg.wait();
                result.ready = w.await_ready();
            }
            std::atomic<bool> other{false};
            weft::go(
                [](std::atomic<bool>& flag) -> weft::task<> {
                    flag.store(true);
                    co_return;
                },
                std::ref(other));
            co_await wg.wait();  // one worker: had this suspended, the other task would have run
            result.other_ran = other.load();
            co_await weft::yield();
            co_return result;
        });
        CHECK(o.ready);
        CHECK_FALSE(o.other_ran);
    }

    TEST_CASE("wg.go runs 100,000 tasks and wait returns after all of them") {
        const std::int64_t n = static_cast<std::int64_t>(weft_test::scaled(100'000, 1000));
        CAPTURE(n);
        std::atomic<std::int64_t> sum{0};
        weft::run(
            [](std::atomic<std::int64_t>& s, std::int64_t count) -> weft::task<> {
                weft::wait_group wg;
                for (std::int64_t i = 0; i < count; ++i)
                    wg.go(add_index, std::ref(s), i);
                co_await wg.wait();
            },
            std::ref(sum), n);
        CHECK(sum.load() == n * (n - 1) / 2);
    }

    TEST_CASE("many tasks waiting on one group are all released") {
        const int waiters = static_cast<int>(weft_test::scaled(1000, 100));
        CAPTURE(waiters);
        for (const unsigned workers : {1u, 3u}) {
            CAPTURE(workers);
            struct outcome {
                int released_early = -1;
                int released = 0;
            };
            const outcome o = weft::run(
                weft::options{.workers = workers},
                [](int count) -> weft::task<outcome> {
                    outcome result;
                    weft::wait_group gate;
                    weft::wait_group all;
                    std::atomic<int> arrived{0};
                    std::atomic<int> released{0};
                    gate.add(1);
                    for (int i = 0; i < count; ++i)
                        all.go(wait_then_count, std::ref(gate), std::ref(arrived), std::ref(released));
                    for (int i = 0; i < 100'000 && arrived.load() < count; ++i)
                        co_await weft::yield();
                    for (int i = 0; i < 10; ++i)
                        co_await weft::yield();
                    result.released_early = released.load();
                    gate.done();
                    co_await all.wait();
                    result.released = released.load();
                    co_return result;
                },
                waiters);
            CHECK(o.released_early == 0);
            CHECK(o.released == waiters);
        }
    }

    TEST_CASE("several tasks waiting on one group are released by a done() from a plain thread") {
        const int released = weft::run(weft::options{.workers = 2}, []() -> weft::task<int> {
            weft::wait_group gate;
            weft::wait_group all;
            std::atomic<int> arrived{0};
            std::atomic<int> count{0};
            gate.add(1);
            for (int i = 0; i < 100; ++i)
                all.go(wait_then_count, std::ref(gate), std::ref(arrived), std::ref(count));
            std::thread releaser([&gate, &arrived] {
                while (arrived.load() < 100)
                    std::this_thread::yield();
                gate.done();
            });
            co_await gate.wait();
            co_await all.wait();
            releaser.join();
            co_return count.load();
        });
        CHECK(released == 100);
    }

    TEST_CASE("a negative counter throws std::logic_error") {
        weft::wait_group wg;
        CHECK_THROWS_WITH_AS(wg.done(), "weft: negative wait_group counter", std::logic_error);
        weft::wait_group other;
        other.add(2);
        CHECK_THROWS_WITH_AS(other.add(-3), "weft: negative wait_group counter", std::logic_error);

        const std::string inside = weft::run([]() -> weft::task<std::string> {
            weft::wait_group g;
            std::string what = "no exception";
            try {
                g.add(-1);
            } catch (const std::logic_error& e) {
                what = e.what();
            }
            co_return what;
        });
        CHECK(inside == "weft: negative wait_group counter");
    }

    TEST_CASE("wg.go calls done() even when the task throws, and the panic handler sees it") {
        std::atomic<int> panics{0};
        const weft_test::panic_handler_guard guard{[&panics](std::exception_ptr error) {
            try {
                std::rethrow_exception(error);
            } catch (const test_error&) {
                panics.fetch_add(1);
            } catch (...) {
            }
        }};
        const std::int64_t left = weft::run(weft::options{.workers = 2}, []() -> weft::task<std::int64_t> {
            weft::wait_group wg;
            for (int i = 0; i < 20; ++i)
                wg.go(throw_after_yield, i);
            co_await wg.wait();
            co_return wg.count();
        });
        CHECK(left == 0);
        CHECK(panics.load() == 20);  // finish_root reports the panic before releasing the group
    }

    TEST_CASE("destroying a wait_group right after wait returns is safe") {
        const int rounds = static_cast<int>(weft_test::scaled(20'000, 500));
        CAPTURE(rounds);
        const int completed = weft::run(
            weft::options{.workers = 3},
            [](int n) -> weft::task<int> {
                // A plain thread that calls done() on whatever group is posted to it: the wake-up
                // then always crosses threads, and the waiter deletes the group while done() may
                // still be returning.
                std::atomic<weft::wait_group*> mailbox{nullptr};
                std::atomic<bool> quit{false};
                std::thread helper([&mailbox, &quit] {
                    while (!quit.load()) {
                        if (weft::wait_group* posted = mailbox.exchange(nullptr))
                            posted->done();
                        else
                            std::this_thread::yield();
                    }
                });
                int done_rounds = 0;
                for (int i = 0; i < n; ++i) {
                    auto* wg = new weft::wait_group;
                    switch (i % 4) {
                        case 3:  // done() from the helper thread
                            wg->add(1);
                            mailbox.store(wg);
                            break;
                        case 0:  // done() by a task, probably on another worker
                            wg->add(1);
                            weft::go(done_on, wg);
                            break;
                        case 1:  // done() after a suspension
                            wg->add(2);
                            weft::go(done_on, wg);
                            weft::go(yield_then_done_on, wg);
                            break;
                        default:  // done() by wg.go's ending, after the task's frame is gone
                            wg->go(nothing_much);
                            wg->go(nothing_much);
                            break;
                    }
                    co_await wg->wait();
                    delete wg;
                    ++done_rounds;
                }
                quit.store(true);
                helper.join();
                co_return done_rounds;
            },
            rounds);
        CHECK(completed == rounds);
    }

    TEST_CASE("a task destroyed by run's shutdown does not call done() for wg.go") {
        std::atomic<long> live{0};
        weft::wait_group never;
        weft::wait_group parked;
        never.add(1);
        weft::run(
            weft::options{.workers = 2},
            [](weft::wait_group& n, weft::wait_group& p, std::atomic<long>& l) -> weft::task<> {
                for (int i = 0; i < 10; ++i)
                    p.go(park_on, std::ref(n), weft_test::probe{l});
                co_await weft::yield();
            },
            std::ref(never), std::ref(parked), std::ref(live));
        CHECK(live.load() == 0);
        CHECK(parked.count() == 10);
        CHECK(never.count() == 1);
        parked.add(-10);  // leave it at zero
    }

    TEST_CASE("wg.go outside a running runtime throws std::logic_error") {
        weft::wait_group wg;
        CHECK_THROWS_AS(wg.go(nothing_much), std::logic_error);
    }

}  // TEST_SUITE("wait_group")
