// Provides the doctest cases for the operations of one weft::chan, send_chan and recv_chan
// (include/weft/chan.hpp), ported from Go's src/runtime/chan_test.go (TestChan) and
// test/chan/zerosize.go: identity, size and capacity, blocking, close, nil channels, the lifetimes
// of parked tasks and buffered values, move-only and empty element types, directional views.
// Many tasks and threads at once, the memory model and Go's channel programs are in
// chan_concurrency_test.cpp.
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
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

namespace {

// What a handle type offers (the directional views restrict it).
template <class C>
concept can_send = requires(const C c) {
    c.send(1);
    c.try_send(1);
    c.size();
    c.capacity();
};
template <class C>
concept can_recv = requires(const C c) {
    c.recv();
    c.try_recv();
    c.size();
    c.capacity();
};
template <class C>
concept can_close = requires(const C c) {
    c.close();
};

// Go's TestChan runs every check for many capacities; these are the interesting ones.
constexpr std::size_t capacities[] = {0, 1, 10, 1000};

// Lets the other tasks run for about `d` (yields in a loop, so it works on one worker too).
weft::task<> pause_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline)
        co_await weft::yield();
}

bool says(const std::exception& e, std::string_view words) {
    return std::string_view(e.what()) == words;
}

weft::task<> recv_and_count(weft::chan<int> c, std::atomic<int>& values, std::atomic<int>& closed) {
    auto v = co_await c.recv();
    if (v) {
        values.fetch_add(1);
    } else {
        closed.fetch_add(1);
    }
}

weft::task<> send_and_count(weft::chan<int> c, int v, std::atomic<int>& sent, std::atomic<int>& threw) {
    try {
        co_await c.send(v);
        sent.fetch_add(1);
    } catch (const weft::channel_closed& e) {
        if (says(e, "send on closed channel")) threw.fetch_add(1);
    }
}

weft::task<> recv_forever(weft::chan<int> nil, std::atomic<bool>& finished, weft_test::probe) {
    co_await nil.recv();
    finished.store(true);
}
weft::task<> send_forever(weft::chan<int> nil, std::atomic<bool>& finished, weft_test::probe) {
    co_await nil.send(1);
    finished.store(true);
}

}  // namespace

TEST_SUITE("chan") {
    TEST_CASE("channel_closed is a std::logic_error; make_chan, the nil channel and copies share identity") {
        static_assert(std::is_base_of_v<std::logic_error, weft::channel_closed>);
        const weft::chan<int> nil;
        CHECK(nil.is_nil());
        CHECK(nil == weft::chan<int>{});
        CHECK(nil.size() == 0);
        CHECK(nil.capacity() == 0);
        const auto a = weft::make_chan<int>();
        const auto b = weft::make_chan<int>();
        const auto a2 = a;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the point
        CHECK_FALSE(a.is_nil());
        CHECK(a == a2);
        CHECK_FALSE(a == b);
        CHECK_FALSE(a == nil);
        weft::chan<int> assigned;
        assigned = b;
        CHECK(assigned == b);
    }

    TEST_CASE("size counts buffered values and capacity is make_chan's argument") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            const auto c = weft::make_chan<int>(cap);
            CHECK(c.size() == 0);
            CHECK(c.capacity() == cap);
            for (std::size_t i = 0; i < cap; ++i)
                CHECK(c.try_send(static_cast<int>(i)));
            CHECK(c.size() == cap);
            CHECK(c.capacity() == cap);
            CHECK_FALSE(c.try_send(-1));  // full (or unbuffered with no receiver)
            CHECK(c.size() == cap);
            if (cap > 0) {
                CHECK(c.try_recv() == 0);
                CHECK(c.size() == cap - 1);
            }
        }
    }

    TEST_CASE("recv on an empty channel blocks and try_recv does not") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                int early = -1;
                bool try_recv_empty = false;
                int values = -1;
                int closed = -1;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<int>(capacity);
                    std::atomic<int> values{0};
                    std::atomic<int> closed{0};
                    weft::wait_group wg;
                    wg.go(recv_and_count, c, std::ref(values), std::ref(closed));
                    wg.go(recv_and_count, c, std::ref(values), std::ref(closed));
                    co_await pause_for(20ms);
                    outcome result;
                    result.early = values.load() + closed.load();
                    result.try_recv_empty = !c.try_recv().has_value();
                    co_await c.send(0);
                    co_await c.send(0);
                    co_await wg.wait();
                    result.values = values.load();
                    result.closed = closed.load();
                    co_return result;
                },
                cap);
            CHECK(o.early == 0);
            CHECK(o.try_recv_empty);
            CHECK(o.values == 2);
            CHECK(o.closed == 0);
        }
    }

    TEST_CASE("send to a full channel blocks until a receive makes room, and its value lands last") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                int early = -1;
                bool try_send_failed = false;
                std::size_t size_while_blocked = 0;
                int first = -2;
                int sent = -1;
                std::vector<int> rest;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<int>(capacity);
                    for (std::size_t i = 0; i < capacity; ++i)
                        co_await c.send(static_cast<int>(i));
                    std::atomic<int> sent{0};
                    std::atomic<int> threw{0};
                    weft::wait_group wg;
                    wg.go(send_and_count, c, -1, std::ref(sent), std::ref(threw));
                    co_await pause_for(20ms);
                    outcome result;
                    result.early = sent.load() + threw.load();
                    result.try_send_failed = !c.try_send(-2);
                    result.size_while_blocked = c.size();
                    result.first = *co_await c.recv();
                    co_await wg.wait();
                    result.sent = sent.load();
                    c.close();
                    while (auto v = c.try_recv())
                        result.rest.push_back(*v);
                    co_return result;
                },
                cap);
            CHECK(o.early == 0);
            CHECK(o.try_send_failed);
            CHECK(o.size_while_blocked == cap);
            CHECK(o.sent == 1);
            if (cap == 0) {
                CHECK(o.first == -1);
                CHECK(o.rest.empty());
            } else {
                CHECK(o.first == 0);
                std::vector<int> expected;
                for (std::size_t i = 1; i < cap; ++i)
                    expected.push_back(static_cast<int>(i));
                expected.push_back(-1);  // the blocked sender's value went to the buffer's tail
                CHECK(o.rest == expected);
            }
        }
    }

    TEST_CASE("close wakes every parked receiver with nullopt") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                int early = -1;
                int values = -1;
                int closed = -1;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<int>(capacity);
                    std::atomic<int> values{0};
                    std::atomic<int> closed{0};
                    weft::wait_group wg;
                    for (int i = 0; i < 3; ++i)
                        wg.go(recv_and_count, c, std::ref(values), std::ref(closed));
                    co_await pause_for(20ms);
                    outcome result;
                    result.early = values.load() + closed.load();
                    c.close();
                    co_await wg.wait();
                    result.values = values.load();
                    result.closed = closed.load();
                    co_return result;
                },
                cap);
            CHECK(o.early == 0);
            CHECK(o.values == 0);
            CHECK(o.closed == 3);
        }
    }

    TEST_CASE("close makes every parked sender throw channel_closed \"send on closed channel\"") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                int early = -1;
                int sent = -1;
                int threw = -1;
                std::vector<int> drained;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<int>(capacity);
                    for (std::size_t i = 0; i < capacity; ++i)
                        co_await c.send(static_cast<int>(i));
                    std::atomic<int> sent{0};
                    std::atomic<int> threw{0};
                    weft::wait_group wg;
                    for (int i = 0; i < 3; ++i)
                        wg.go(send_and_count, c, 100 + i, std::ref(sent), std::ref(threw));
                    co_await pause_for(20ms);
                    outcome result;
                    result.early = sent.load() + threw.load();
                    c.close();
                    co_await wg.wait();
                    result.sent = sent.load();
                    result.threw = threw.load();
                    while (auto v = co_await c.recv())
                        result.drained.push_back(*v);
                    co_return result;
                },
                cap);
            CHECK(o.early == 0);
            CHECK(o.sent == 0);
            CHECK(o.threw == 3);
            std::vector<int> expected;
            for (std::size_t i = 0; i < cap; ++i)
                expected.push_back(static_cast<int>(i));
            CHECK(o.drained == expected);  // the senders' values never reached the buffer
        }
    }

    TEST_CASE("after close, recv gives the buffered values in order, then nullopt forever") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                std::vector<int> values;
                int nullopts = 0;
                bool try_recv_empty = false;
                std::size_t size_after = 99;
            };
            const outcome o = weft::run(
                weft::options{.workers = 1},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<int>(capacity);
                    for (std::size_t i = 0; i < capacity; ++i)
                        co_await c.send(static_cast<int>(i));
                    c.close();
                    outcome result;
                    for (std::size_t i = 0; i < capacity; ++i) {
                        // Alternate the blocking and the non-blocking receive.
                        if (i % 2 == 0) {
                            result.values.push_back(*co_await c.recv());
                        } else {
                            result.values.push_back(*c.try_recv());
                        }
                    }
                    for (int i = 0; i < 10; ++i) {
                        if (!co_await c.recv()) ++result.nullopts;
                    }
                    result.try_recv_empty = !c.try_recv().has_value();
                    result.size_after = c.size();
                    co_return result;
                },
                cap);
            std::vector<int> expected;
            for (std::size_t i = 0; i < cap; ++i)
                expected.push_back(static_cast<int>(i));
            CHECK(o.values == expected);
            CHECK(o.nullopts == 10);
            CHECK(o.try_recv_empty);
            CHECK(o.size_after == 0);
        }
    }

    TEST_CASE(
        "close of a closed channel throws \"close of closed channel\"; close of nil throws \"close of nil channel\"") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            const auto c = weft::make_chan<int>(cap);
            c.close();
            CHECK_THROWS_WITH_AS(c.close(), "close of closed channel", weft::channel_closed);
            const weft::send_chan<int> view = c;
            CHECK_THROWS_WITH_AS(view.close(), "close of closed channel", weft::channel_closed);
        }
        const weft::chan<int> nil;
        CHECK_THROWS_WITH_AS(nil.close(), "close of nil channel", weft::channel_closed);
        CHECK_THROWS_AS(nil.close(), std::logic_error);
        const weft::send_chan<int> nil_view;
        CHECK_THROWS_WITH_AS(nil_view.close(), "close of nil channel", weft::channel_closed);
    }

    TEST_CASE("send and try_send on a closed channel throw \"send on closed channel\"") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            const auto c = weft::make_chan<int>(cap);
            c.close();
            CHECK_THROWS_WITH_AS(c.try_send(1), "send on closed channel", weft::channel_closed);
            CHECK(c.size() == 0);
            const std::string what = weft::run(
                weft::options{.workers = 1},
                [](weft::chan<int> closed) -> weft::task<std::string> {
                    try {
                        co_await closed.send(1);
                    } catch (const weft::channel_closed& e) {
                        co_return e.what();
                    }
                    co_return "no exception";
                },
                c);
            CHECK(what == "send on closed channel");
        }
    }

    TEST_CASE("the nil channel: send and recv block forever, and their tasks are destroyed when run returns") {
        std::atomic<long> live{0};
        std::atomic<bool> recv_finished{false};
        std::atomic<bool> send_finished{false};
        struct outcome {
            bool try_send_failed = false;
            bool try_recv_empty = false;
            std::size_t tasks = 0;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [](std::atomic<long>& l, std::atomic<bool>& rf, std::atomic<bool>& sf) -> weft::task<outcome> {
                const weft::chan<int> nil;
                weft::go(recv_forever, nil, std::ref(rf), weft_test::probe{l});
                weft::go(send_forever, nil, std::ref(sf), weft_test::probe{l});
                co_await pause_for(30ms);
                outcome result;
                result.try_send_failed = !nil.try_send(1);
                result.try_recv_empty = !nil.try_recv().has_value();
                result.tasks = weft::num_tasks();
                co_return result;
            },
            std::ref(live), std::ref(recv_finished), std::ref(send_finished));
        CHECK(o.try_send_failed);
        CHECK(o.try_recv_empty);
        CHECK(o.tasks == 3);
        CHECK_FALSE(recv_finished.load());
        CHECK_FALSE(send_finished.load());
        CHECK(live.load() == 0);  // both frames were destroyed by run's shutdown
    }

    TEST_CASE("tasks parked on a channel when run returns are destroyed, with the values they carry") {
        std::atomic<long> live{0};
        weft::run(
            weft::options{.workers = 2},
            [](std::atomic<long>& l) -> weft::task<> {
                auto full = weft::make_chan<weft_test::probe>(1);
                co_await full.send(weft_test::probe{l});
                auto empty = weft::make_chan<weft_test::probe>();
                for (int i = 0; i < 5; ++i) {
                    weft::go([](weft::chan<weft_test::probe> c,
                                weft_test::probe p) -> weft::task<> { co_await c.send(std::move(p)); },
                             full, weft_test::probe{l});
                    weft::go([](weft::chan<weft_test::probe> c) -> weft::task<> { co_await c.recv(); }, empty);
                }
                co_await pause_for(10ms);
            },
            std::ref(live));
        CHECK(live.load() == 0);
    }

    TEST_CASE("channels that outlive run() keep working: the shutdown walk leaves channel states alone") {
        // Channel states come from the object pool, not the frame pool whose slabs run()'s
        // shutdown walks for leftover tasks: a state read as a frame would be "destroyed".
        // Capacities 1 and 2 are the values of task_mode::detached and ::joinable.
        std::vector<weft::chan<int>> kept;
        for (std::size_t capacity : {0u, 1u, 2u, 3u})
            kept.push_back(weft::make_chan<int>(capacity));
        weft::run(
            weft::options{.workers = 2},
            [](std::vector<weft::chan<int>>& channels) -> weft::task<> {
                for (auto& c : channels)  // a task parked on each when run returns
                    weft::go([](weft::chan<int> ch) -> weft::task<> { co_await ch.recv(); }, c);
                for (int i = 0; i < 100; ++i)  // and channels made and dropped inside run
                    weft::make_chan<int>(static_cast<std::size_t>(i % 4)).close();
                co_await pause_for(10ms);
            },
            std::ref(kept));
        for (std::size_t i = 1; i < kept.size(); ++i) {
            CHECK(kept[i].capacity() == i);
            CHECK(kept[i].try_send(static_cast<int>(i)));
            CHECK(kept[i].try_recv() == std::optional<int>{static_cast<int>(i)});
        }
        CHECK_FALSE(kept[0].try_send(0));  // unbuffered, and its parked receiver is gone
    }

    TEST_CASE("the object pool hands out aligned blocks, reuses freed ones, and takes blocks freed on other threads") {
        using weft::detail::object_alloc;
        using weft::detail::object_free;
        for (std::size_t size : {64u, 128u, 192u, 640u, 4096u, 8192u, 16384u}) {
            void* a = object_alloc(size);
            CHECK(reinterpret_cast<std::uintptr_t>(a) % weft::detail::object_alignment == 0);
            object_free(a, size);
        }
        // Thread A allocates, thread B frees: B's magazines take the blocks; A allocates more.
        std::vector<void*> blocks;
        std::thread producer([&blocks] {
            for (int i = 0; i < 5000; ++i)
                blocks.push_back(object_alloc(128));
        });
        producer.join();
        std::thread consumer([&blocks] {
            for (void* b : blocks)
                object_free(b, 128);
        });
        consumer.join();
        std::vector<void*> again;
        for (int i = 0; i < 5000; ++i)
            again.push_back(object_alloc(128));
        std::sort(again.begin(), again.end());
        CHECK(std::adjacent_find(again.begin(), again.end()) == again.end());  // no block twice
        for (void* b : again)
            object_free(b, 128);
    }

    TEST_CASE("buffered values are destroyed with the channel's last handle") {
        std::atomic<long> live{0};
        {
            auto c = weft::make_chan<weft_test::probe>(10);
            for (int i = 0; i < 7; ++i)
                CHECK(c.try_send(weft_test::probe{live}));
            CHECK(c.try_recv().has_value());
            CHECK(live.load() == 6);
            const auto copy = c;  // NOLINT(performance-unnecessary-copy-initialization)
            c = weft::chan<weft_test::probe>{};
            CHECK(live.load() == 6);  // `copy` still holds the channel
        }
        CHECK(live.load() == 0);
    }

    TEST_CASE("move-only values (std::unique_ptr<int>) travel through unbuffered and buffered channels") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            const int bad = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<int> {
                    auto c = weft::make_chan<std::unique_ptr<int>>(capacity);
                    weft::go(
                        [](weft::chan<std::unique_ptr<int>> out) -> weft::task<> {
                            for (int i = 0; i < 1000; ++i)
                                co_await out.send(std::make_unique<int>(i));
                            out.close();
                        },
                        c);
                    int wrong = 0;
                    int next = 0;
                    while (auto p = co_await c.recv()) {
                        if (!*p || **p != next) ++wrong;
                        ++next;
                    }
                    co_return wrong + (next == 1000 ? 0 : 1);
                },
                cap);
            CHECK(bad == 0);
        }
        // Non-blocking operations too; leftovers are freed with the channel (ASan checks).
        const auto c = weft::make_chan<std::unique_ptr<int>>(2);
        CHECK(c.try_send(std::make_unique<int>(1)));
        auto two = std::make_unique<int>(2);
        CHECK(c.try_send(std::move(two)));
        CHECK(two == nullptr);  // NOLINT(bugprone-use-after-move): moved from because it was sent
        const auto first = c.try_recv();
        REQUIRE(first.has_value());
        REQUIRE(*first != nullptr);
        CHECK(**first == 1);
        CHECK(c.try_send(std::make_unique<int>(3)));
    }

    TEST_CASE("try_send that does not send leaves a move-only rvalue argument untouched") {
        // chan.hpp: "true if sent (only then is an rvalue moved from)".
        const auto full = weft::make_chan<std::unique_ptr<int>>(1);
        CHECK(full.try_send(std::make_unique<int>(1)));
        auto keep = std::make_unique<int>(2);
        CHECK_FALSE(full.try_send(std::move(keep)));
        CHECK(keep != nullptr);  // NOLINT(bugprone-use-after-move): not sent, so not moved from
        const auto unbuffered = weft::make_chan<std::unique_ptr<int>>();
        auto keep2 = std::make_unique<int>(3);
        CHECK_FALSE(unbuffered.try_send(std::move(keep2)));
        CHECK(keep2 != nullptr);  // NOLINT(bugprone-use-after-move)
    }

    TEST_CASE("empty element types (weft::unit, std::monostate) count values: capacity 1000 holds 1000") {
        const auto units = weft::make_chan<weft::unit>(1000);
        const auto monos = weft::make_chan<std::monostate>(1000);
        for (int i = 0; i < 1000; ++i) {
            CHECK(units.try_send(weft::unit{}));
            CHECK(monos.try_send(std::monostate{}));
        }
        CHECK(units.size() == 1000);
        CHECK(monos.size() == 1000);
        CHECK_FALSE(units.try_send(weft::unit{}));
        CHECK_FALSE(monos.try_send(std::monostate{}));
        units.close();
        struct outcome {
            int units = 0;
            int monos = 0;
            bool units_closed = false;
            int signals = 0;
        };
        const outcome o = weft::run(
            weft::options{.workers = 2},
            [](weft::chan<weft::unit> u, weft::chan<std::monostate> m) -> weft::task<outcome> {
                outcome result;
                while (co_await u.recv())
                    ++result.units;
                result.units_closed = !u.try_recv().has_value();
                for (int i = 0; i < 1000; ++i) {
                    if (co_await m.recv()) ++result.monos;
                }
                // Unbuffered chan<unit> as a signal, and close as a broadcast to parked receivers.
                auto done = weft::make_chan<weft::unit>();
                auto quit = weft::make_chan<weft::unit>();
                for (int i = 0; i < 5; ++i) {
                    weft::go(
                        [](weft::chan<weft::unit> q, weft::chan<weft::unit> d) -> weft::task<> {
                            const auto v = co_await q.recv();  // nullopt: quit was closed
                            if (!v) co_await d.send(weft::unit{});
                        },
                        quit, done);
                }
                quit.close();
                for (int i = 0; i < 5; ++i) {
                    if (co_await done.recv()) ++result.signals;
                }
                co_return result;
            },
            units, monos);
        CHECK(o.units == 1000);
        CHECK(o.units_closed);
        CHECK(o.monos == 1000);
        CHECK(o.signals == 5);
        CHECK(monos.size() == 0);
    }

    TEST_CASE("send_chan and recv_chan convert from chan, compare equal to it and restrict the operations") {
        static_assert(std::is_convertible_v<weft::chan<int>, weft::send_chan<int>>);
        static_assert(std::is_convertible_v<weft::chan<int>, weft::recv_chan<int>>);
        static_assert(!std::is_convertible_v<weft::send_chan<int>, weft::recv_chan<int>>);
        static_assert(!std::is_convertible_v<weft::recv_chan<int>, weft::send_chan<int>>);
        static_assert(!std::is_convertible_v<weft::chan<int>, weft::send_chan<long>>);
        static_assert(can_send<weft::send_chan<int>> && can_close<weft::send_chan<int>>);
        static_assert(!can_recv<weft::send_chan<int>>);
        static_assert(can_recv<weft::recv_chan<int>>);
        static_assert(!can_send<weft::recv_chan<int>> && !can_close<weft::recv_chan<int>>);
        static_assert(can_send<weft::chan<int>> && can_recv<weft::chan<int>> && can_close<weft::chan<int>>);
        static_assert(std::is_copy_assignable_v<weft::send_chan<int>> &&
                      std::is_copy_assignable_v<weft::recv_chan<int>>);

        const auto c = weft::make_chan<int>(5);
        const auto other = weft::make_chan<int>(5);
        const weft::send_chan<int> s = c;
        const weft::recv_chan<int> r = c;
        CHECK(s == weft::send_chan<int>(c));
        CHECK(r == weft::recv_chan<int>(c));
        CHECK_FALSE(s == weft::send_chan<int>(other));
        CHECK_FALSE(r == weft::recv_chan<int>(other));
        CHECK(weft::send_chan<int>{} == weft::send_chan<int>{});
        CHECK(weft::send_chan<int>{}.is_nil());
        CHECK(weft::recv_chan<int>{}.is_nil());
        CHECK_FALSE(s.is_nil());
        CHECK(s.capacity() == 5);
        CHECK(r.capacity() == 5);
        CHECK(s.try_send(1));
        CHECK(s.try_send(2));
        CHECK(s.size() == 2);
        CHECK(r.size() == 2);
        CHECK(c.size() == 2);
        CHECK(r.try_recv() == 1);
        weft::recv_chan<int> assigned;
        CHECK(assigned.is_nil());
        assigned = other;
        CHECK(assigned == weft::recv_chan<int>(other));
        s.close();
        CHECK(r.try_recv() == 2);
        CHECK_FALSE(r.try_recv().has_value());
        CHECK_THROWS_WITH_AS(s.try_send(3), "send on closed channel", weft::channel_closed);

        // Views as task parameters: a two-stage pipeline.
        const std::vector<int> got = weft::run(weft::options{.workers = 2}, []() -> weft::task<std::vector<int>> {
            auto numbers = weft::make_chan<int>();
            auto squares = weft::make_chan<int>(3);
            weft::go(
                [](weft::send_chan<int> out) -> weft::task<> {
                    for (int i = 1; i <= 5; ++i)
                        co_await out.send(i);
                    out.close();
                },
                numbers);
            weft::go(
                [](weft::recv_chan<int> in, weft::send_chan<int> out) -> weft::task<> {
                    while (auto v = co_await in.recv())
                        co_await out.send(*v * *v);
                    out.close();
                },
                numbers, squares);
            std::vector<int> values;
            weft::recv_chan<int> in = squares;
            while (auto v = co_await in.recv())
                values.push_back(*v);
            co_return values;
        });
        CHECK(got == std::vector<int>{1, 4, 9, 16, 25});
    }

}  // TEST_SUITE("chan")
