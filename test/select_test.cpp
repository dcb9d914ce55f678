// Provides the doctest cases for weft::select (include/weft/select.hpp), a port of Go's select
// tests (src/runtime/chan_test.go, test/chan/{select,select3,doubleselect}.go): readiness and
// default_case, closed and nil channels, withdrawal of the cases that lost, the same channel
// twice, uniform choice, self-select, many selects racing, move-only values, result types.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
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

constexpr std::size_t capacities[] = {0, 1, 10, 1000};

// Lets the other tasks run for about `d` (yields in a loop, so it works on one worker too).
weft::task<> pause_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline)
        co_await weft::yield();
}

// Fills a channel until a send would block (nothing for an unbuffered one).
void fill(const weft::chan<int>& c) {
    while (c.try_send(0)) {
    }
}

weft::task<> select_two_forever(weft::chan<int> a, weft::chan<int> b, std::atomic<bool>& finished, weft_test::probe) {
    co_await weft::select(weft::recv(a), weft::send(b, 7));
    finished.store(true);
}
weft::task<> select_nothing_forever(std::atomic<bool>& finished, weft_test::probe) {
    co_await weft::select();
    finished.store(true);
}
weft::task<> select_self_forever(weft::chan<int> c, std::atomic<bool>& finished, weft_test::probe) {
    co_await weft::select(weft::send(c, 1), weft::recv(c));
    finished.store(true);
}

// Go's TestSelfSelect: a send and a receive on the same channel in one select.
weft::task<> self_select(weft::chan<int> c, int p, int iterations, std::atomic<int>& self_receives) {
    for (int i = 0; i < iterations; ++i) {
        if (p == 0 || i % 2 == 0) {
            auto r = co_await weft::select(weft::send(c, p), weft::recv(c));
            if (r.index() == 1 && c.capacity() == 0 && std::get<1>(r) == p) self_receives.fetch_add(1);
        } else {
            auto r = co_await weft::select(weft::recv(c), weft::send(c, p));
            if (r.index() == 0 && c.capacity() == 0 && std::get<0>(r) == p) self_receives.fetch_add(1);
        }
    }
}

// Go's TestSelectStress. Values are tagged so that every one can be checked: channel k,
// source s (0: a plain sender, 1: the selecting sender), index i -> (k * 2 + s) * n + i.
int tag(int k, int source, int i, int n) {
    return (k * 2 + source) * n + i;
}

weft::task<> plain_sender(weft::chan<int> c, int k, int n) {
    for (int i = 0; i < n; ++i)
        co_await c.send(tag(k, 0, i, n));
}
weft::task<> plain_receiver(weft::chan<int> c, int n, std::vector<int>& got) {
    for (int i = 0; i < n; ++i)
        got.push_back(*co_await c.recv());
}
weft::task<> select_sender(std::vector<weft::chan<int>> c, int n) {
    int sent[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4 * n; ++i) {
        // Go's order: 3, 2, 0, 1. A channel is set to nil (its case disabled) once it had n.
        auto r =
            co_await weft::select(weft::send(c[3], tag(3, 1, sent[3], n)), weft::send(c[2], tag(2, 1, sent[2], n)),
                                  weft::send(c[0], tag(0, 1, sent[0], n)), weft::send(c[1], tag(1, 1, sent[1], n)));
        constexpr int channel_of[] = {3, 2, 0, 1};
        const int k = channel_of[r.index()];
        if (++sent[k] == n) c[static_cast<std::size_t>(k)] = weft::chan<int>{};
    }
}
weft::task<> select_receiver(std::vector<weft::chan<int>> c, int n, std::vector<int>& got) {
    int received[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4 * n; ++i) {
        auto r = co_await weft::select(weft::recv(c[0]), weft::recv(c[1]), weft::recv(c[2]), weft::recv(c[3]));
        const auto k = r.index();
        std::optional<int> v;
        switch (k) {
            case 0:
                v = std::get<0>(r);
                break;
            case 1:
                v = std::get<1>(r);
                break;
            case 2:
                v = std::get<2>(r);
                break;
            default:
                v = std::get<3>(r);
                break;
        }
        got.push_back(v ? *v : -1);
        if (++received[k] == n) c[k] = weft::chan<int>{};
    }
}

// Runs Go's TestSelectStress with the given capacities; returns how many tagged values were
// not received exactly once (0 when nothing was lost or duplicated).
weft::task<std::size_t> select_stress(std::vector<std::size_t> caps, int n) {
    std::vector<weft::chan<int>> c;
    for (const std::size_t cap : caps)
        c.push_back(weft::make_chan<int>(cap));
    std::vector<std::vector<int>> got(5);
    weft::wait_group wg;
    for (int k = 0; k < 4; ++k) {
        wg.go(plain_sender, c[static_cast<std::size_t>(k)], k, n);
        wg.go(plain_receiver, c[static_cast<std::size_t>(k)], n, std::ref(got[static_cast<std::size_t>(k)]));
    }
    wg.go(select_sender, c, n);
    wg.go(select_receiver, c, n, std::ref(got[4]));
    co_await wg.wait();
    std::vector<int> counts(static_cast<std::size_t>(8 * n));
    std::size_t bad = 0;
    for (const auto& values : got) {
        for (const int v : values) {
            if (v < 0 || v >= 8 * n) {
                ++bad;
            } else {
                ++counts[static_cast<std::size_t>(v)];
            }
        }
    }
    for (const int count : counts)
        bad += count != 1 ? 1 : 0;
    co_return bad;
}

// Go's test/chan/doubleselect.go: a select over four channels, a mux per channel, one receiver.
weft::task<> double_select_sender(int n, weft::send_chan<int> c1, weft::send_chan<int> c2, weft::send_chan<int> c3,
                                  weft::send_chan<int> c4) {
    for (int i = 0; i < n; ++i) {
        co_await weft::select(weft::send(c1, i), weft::send(c2, i), weft::send(c3, i), weft::send(c4, i));
    }
    c1.close();
    c2.close();
    c3.close();
    c4.close();
}
weft::task<> mux(weft::send_chan<int> out, weft::recv_chan<int> in) {
    while (auto v = co_await in.recv())
        co_await out.send(*v);
}
weft::task<> close_when_done(weft::wait_group& muxes, weft::chan<int> out) {
    co_await muxes.wait();
    out.close();
}
struct double_select_outcome {
    int received = 0;
    int duplicates = 0;
};
weft::task<double_select_outcome> double_select(int n) {
    auto c1 = weft::make_chan<int>();
    auto c2 = weft::make_chan<int>();
    auto c3 = weft::make_chan<int>();
    auto c4 = weft::make_chan<int>();
    auto cmux = weft::make_chan<int>();
    weft::go(double_select_sender, n, c1, c2, c3, c4);
    weft::wait_group muxes;
    muxes.go(mux, cmux, c1);
    muxes.go(mux, cmux, c2);
    muxes.go(mux, cmux, c3);
    muxes.go(mux, cmux, c4);
    weft::go(close_when_done, std::ref(muxes), cmux);
    std::vector<bool> seen(static_cast<std::size_t>(n));
    double_select_outcome result;
    while (auto v = co_await cmux.recv()) {
        ++result.received;
        if (seen[static_cast<std::size_t>(*v)]) ++result.duplicates;
        seen[static_cast<std::size_t>(*v)] = true;
    }
    co_return result;
}

}  // namespace

TEST_SUITE("select") {
    TEST_CASE("select returns a variant with one alternative per case, in order, whose index is the case that fired") {
        using awaiter = decltype(weft::select(weft::recv(weft::chan<int>{}), weft::recv(weft::chan<int>{}),
                                              weft::send(weft::chan<double>{}, 1.0)));
        static_assert(std::is_same_v<decltype(std::declval<awaiter&>().await_resume()),
                                     std::variant<std::optional<int>, std::optional<int>, std::monostate>>);
        static_assert(std::is_void_v<decltype(weft::select().await_resume())>);

        struct outcome {
            std::size_t index = 99;
            std::string text;
            std::size_t sent_index = 99;
            long sent_value = 0;
            std::string sent_text;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            auto words = weft::make_chan<std::string>(1);
            auto numbers = weft::make_chan<int>();
            auto longs = weft::make_chan<long>(1);
            auto texts = weft::make_chan<std::string>(1);
            co_await words.send("hello");
            outcome result;
            auto r = co_await weft::select(weft::recv(numbers), weft::recv(words), weft::default_case);
            result.index = r.index();
            if (r.index() == 1 && std::get<1>(r)) result.text = *std::get<1>(r);
            // send's value converts to the element type (it is not deduced from the argument).
            auto s = co_await weft::select(weft::recv(numbers), weft::send(longs, 5), weft::send(texts, "converted"));
            result.sent_index = s.index();
            auto s2 = co_await weft::select(weft::send(longs, 6), weft::send(texts, "converted"));
            static_cast<void>(s2);
            result.sent_value = longs.try_recv().value_or(-1);
            result.sent_text = texts.try_recv().value_or("");
            co_return result;
        });
        CHECK(o.index == 1);
        CHECK(o.text == "hello");
        CHECK((o.sent_index == 1 || o.sent_index == 2));
        CHECK((o.sent_value == 5 || o.sent_value == 6));  // both sends went through over the two selects
        CHECK(o.sent_text == "converted");
    }

    TEST_CASE("select with default_case fires default when no case is ready, for every capacity") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                std::size_t empty_recv = 99;
                std::size_t full_send = 99;
                std::size_t both = 99;
                std::size_t ready_recv = 99;
                int value = -1;
                std::size_t ready_send = 99;
            };
            const outcome o = weft::run(
                weft::options{.workers = 1},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto empty = weft::make_chan<int>(capacity);
                    auto full = weft::make_chan<int>(capacity);
                    fill(full);
                    outcome result;
                    result.empty_recv = (co_await weft::select(weft::recv(empty), weft::default_case)).index();
                    result.full_send = (co_await weft::select(weft::send(full, 1), weft::default_case)).index();
                    result.both =
                        (co_await weft::select(weft::recv(empty), weft::send(full, 1), weft::default_case)).index();
                    if (capacity > 0) {
                        auto r = co_await weft::select(weft::recv(full), weft::default_case);
                        result.ready_recv = r.index();
                        if (r.index() == 0 && std::get<0>(r)) result.value = *std::get<0>(r);
                        result.ready_send = (co_await weft::select(weft::send(empty, 1), weft::default_case)).index();
                    }
                    co_return result;
                },
                cap);
            CHECK(o.empty_recv == 1);
            CHECK(o.full_send == 1);
            CHECK(o.both == 2);
            if (cap > 0) {
                CHECK(o.ready_recv == 0);
                CHECK(o.value == 0);
                CHECK(o.ready_send == 0);
            }
        }
    }

    TEST_CASE("default_case may stand anywhere in the list, and fires only when nothing else is ready") {
        struct outcome {
            std::size_t first = 99;
            std::size_t middle = 99;
            std::size_t last = 99;
            std::size_t only = 99;
            std::size_t first_ready = 99;
            std::size_t middle_ready = 99;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            auto empty = weft::make_chan<int>(1);
            auto full = weft::make_chan<int>(1);
            fill(full);
            outcome result;
            result.first = (co_await weft::select(weft::default_case, weft::recv(empty), weft::send(full, 1))).index();
            result.middle = (co_await weft::select(weft::recv(empty), weft::default_case, weft::send(full, 1))).index();
            result.last = (co_await weft::select(weft::recv(empty), weft::send(full, 1), weft::default_case)).index();
            result.only = (co_await weft::select(weft::default_case)).index();
            result.first_ready = (co_await weft::select(weft::default_case, weft::recv(full))).index();
            result.middle_ready =
                (co_await weft::select(weft::recv(empty), weft::default_case, weft::send(empty, 2))).index();
            co_return result;
        });
        CHECK(o.first == 0);
        CHECK(o.middle == 1);
        CHECK(o.last == 2);
        CHECK(o.only == 0);
        CHECK(o.first_ready == 1);
        CHECK(o.middle_ready == 2);
    }

    TEST_CASE("a parked select completes the first case that becomes ready, and the others are withdrawn") {
        for (const std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
            CAPTURE(cap);
            struct outcome {
                std::size_t index = 99;
                int value = -1;
                bool other_has_no_receiver = false;
                bool send_case_had_no_effect = false;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto a = weft::make_chan<int>(capacity);
                    auto b = weft::make_chan<int>();  // unbuffered: try_send succeeds only on a parked receiver
                    auto out = weft::make_chan<int>();
                    auto j = weft::spawn(
                        [](weft::chan<int> ca, weft::chan<int> cb,
                           weft::chan<int> co) -> weft::task<std::pair<std::size_t, int>> {
                            auto r = co_await weft::select(weft::recv(cb), weft::recv(ca), weft::send(co, 5));
                            int v = -1;
                            if (r.index() == 1 && std::get<1>(r)) v = *std::get<1>(r);
                            co_return std::pair<std::size_t, int>{r.index(), v};
                        },
                        a, b, out);
                    co_await pause_for(20ms);
                    co_await a.send(42);
                    const auto [index, value] = co_await j;
                    outcome result;
                    result.index = index;
                    result.value = value;
                    result.other_has_no_receiver = !b.try_send(1);  // the recv(b) node was withdrawn
                    result.send_case_had_no_effect = !out.try_recv().has_value();
                    co_return result;
                },
                cap);
            CHECK(o.index == 1);
            CHECK(o.value == 42);
            CHECK(o.other_has_no_receiver);
            CHECK(o.send_case_had_no_effect);
        }
    }

    TEST_CASE("a parked select's send case delivers its value to a receiver that arrives later") {
        for (const std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
            CAPTURE(cap);
            struct outcome {
                std::size_t index = 99;
                std::optional<int> received;
                bool nothing_else = false;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<int>(capacity);
                    fill(c);
                    auto never = weft::make_chan<int>();
                    auto j = weft::spawn(
                        [](weft::chan<int> target, weft::chan<int> other) -> weft::task<std::size_t> {
                            auto r = co_await weft::select(weft::recv(other), weft::send(target, 77));
                            co_return r.index();
                        },
                        c, never);
                    co_await pause_for(20ms);
                    outcome result;
                    if (capacity > 0) co_await c.recv();  // makes room: the parked send case fills it
                    result.received = co_await c.recv();  // unbuffered: taken from the parked select
                    result.index = co_await j;
                    result.nothing_else = !c.try_recv().has_value() && !never.try_send(1);
                    co_return result;
                },
                cap);
            CHECK(o.index == 1);
            CHECK(o.received == 77);
            CHECK(o.nothing_else);
        }
    }

    TEST_CASE("a recv case on a closed channel is ready: it fires with nullopt, before default_case") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                std::size_t with_default = 99;
                bool nullopt = false;
                std::size_t alone = 99;
                std::size_t parked_index = 99;
                bool parked_nullopt = false;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto closed = weft::make_chan<int>(capacity);
                    closed.close();
                    auto empty = weft::make_chan<int>(capacity);
                    outcome result;
                    auto r = co_await weft::select(weft::recv(empty), weft::recv(closed), weft::default_case);
                    result.with_default = r.index();
                    result.nullopt = r.index() == 1 && !std::get<1>(r).has_value();
                    result.alone = (co_await weft::select(weft::recv(closed))).index();
                    // A parked select is woken by close.
                    auto later = weft::make_chan<int>(capacity);
                    auto j = weft::spawn(
                        [](weft::chan<int> e, weft::chan<int> l) -> weft::task<std::pair<std::size_t, bool>> {
                            auto p = co_await weft::select(weft::recv(e), weft::recv(l));
                            co_return std::pair<std::size_t, bool>{p.index(), p.index() == 1 && !std::get<1>(p)};
                        },
                        empty, later);
                    co_await pause_for(20ms);
                    later.close();
                    const auto [index, was_nullopt] = co_await j;
                    result.parked_index = index;
                    result.parked_nullopt = was_nullopt;
                    co_return result;
                },
                cap);
            CHECK(o.with_default == 1);
            CHECK(o.nullopt);
            CHECK(o.alone == 0);
            CHECK(o.parked_index == 1);
            CHECK(o.parked_nullopt);
        }
    }

    TEST_CASE("a send case on a closed channel throws channel_closed, even with a default_case") {
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            struct outcome {
                std::string with_default;
                std::string alone;
                std::string parked;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto closed = weft::make_chan<int>(capacity);
                    closed.close();
                    auto empty = weft::make_chan<int>(capacity);
                    outcome result;
                    try {
                        co_await weft::select(weft::recv(empty), weft::send(closed, 1), weft::default_case);
                        result.with_default = "no exception";
                    } catch (const weft::channel_closed& e) {
                        result.with_default = e.what();
                    }
                    try {
                        co_await weft::select(weft::send(closed, 1));
                        result.alone = "no exception";
                    } catch (const weft::channel_closed& e) {
                        result.alone = e.what();
                    }
                    // A select parked on a send case throws when that channel is closed.
                    auto full = weft::make_chan<int>(capacity);
                    fill(full);
                    auto j = weft::spawn(
                        [](weft::chan<int> e, weft::chan<int> f) -> weft::task<std::string> {
                            try {
                                co_await weft::select(weft::recv(e), weft::send(f, 2));
                            } catch (const weft::channel_closed& ex) {
                                co_return ex.what();
                            }
                            co_return "no exception";
                        },
                        empty, full);
                    co_await pause_for(20ms);
                    full.close();
                    result.parked = co_await j;
                    co_return result;
                },
                cap);
            CHECK(o.with_default == "send on closed channel");
            CHECK(o.alone == "send on closed channel");
            CHECK(o.parked == "send on closed channel");
        }
    }

    TEST_CASE("cases on the nil channel are never chosen (select3.go)") {
        struct outcome {
            std::size_t nil_recv = 99;
            std::size_t nil_send = 99;
            std::size_t nil_both = 99;
            int ready_chosen = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            const weft::chan<int> nil;
            auto ready = weft::make_chan<int>(1);
            outcome result;
            result.nil_recv = (co_await weft::select(weft::recv(nil), weft::default_case)).index();
            result.nil_send = (co_await weft::select(weft::send(nil, 7), weft::default_case)).index();
            result.nil_both = (co_await weft::select(weft::recv(nil), weft::send(nil, 7), weft::default_case)).index();
            for (int i = 0; i < 200; ++i) {
                ready.try_send(i);
                auto r = co_await weft::select(weft::recv(nil), weft::send(nil, 7), weft::recv(ready), weft::recv(nil));
                if (r.index() == 2 && std::get<2>(r) == i) ++result.ready_chosen;
            }
            co_return result;
        });
        CHECK(o.nil_recv == 1);
        CHECK(o.nil_send == 1);
        CHECK(o.nil_both == 2);
        CHECK(o.ready_chosen == 200);
    }

    TEST_CASE("select() with no cases, only nil channels, or its own send and recv blocks forever (select3.go)") {
        std::atomic<long> live{0};
        std::atomic<bool> finished[4] = {false, false, false, false};
        const std::size_t tasks = weft::run(
            weft::options{.workers = 2},
            [](std::atomic<long>& l, std::atomic<bool>* f) -> weft::task<std::size_t> {
                const weft::chan<int> nil;
                weft::go(select_nothing_forever, std::ref(f[0]), weft_test::probe{l});
                weft::go(select_two_forever, nil, nil, std::ref(f[1]), weft_test::probe{l});
                weft::go(select_self_forever, weft::make_chan<int>(), std::ref(f[2]), weft_test::probe{l});
                weft::go(select_two_forever, weft::make_chan<int>(), weft::make_chan<int>(), std::ref(f[3]),
                         weft_test::probe{l});
                co_await pause_for(30ms);
                co_return weft::num_tasks();
            },
            std::ref(live), &finished[0]);
        CHECK(tasks == 5);
        for (const auto& f : finished)
            CHECK_FALSE(f.load());
        CHECK(live.load() == 0);  // every parked frame was destroyed by run's shutdown
    }

    TEST_CASE("a select parked on the nil channel and a real one completes through the real one") {
        const int got = weft::run(weft::options{.workers = 2}, []() -> weft::task<int> {
            auto c = weft::make_chan<int>();
            auto j = weft::spawn(
                [](weft::chan<int> real) -> weft::task<int> {
                    const weft::chan<int> nil;
                    auto r = co_await weft::select(weft::recv(nil), weft::send(nil, 1), weft::recv(real));
                    co_return r.index() == 2 ? std::get<2>(r).value_or(-2) : -1;
                },
                c);
            co_await pause_for(10ms);
            co_await c.send(9);
            co_return co_await j;
        });
        CHECK(got == 9);
    }

    TEST_CASE("the same channel twice in one select: either case may fire, and the queue stays sound") {
        // Ready: two recv cases on one channel both win sometimes.
        const std::pair<int, int> wins =
            weft::run(weft::options{.workers = 1}, []() -> weft::task<std::pair<int, int>> {
                auto c = weft::make_chan<int>(1);
                std::pair<int, int> counts{0, 0};
                for (int i = 0; i < 1000; ++i) {
                    c.try_send(i);
                    auto r = co_await weft::select(weft::recv(c), weft::recv(c));
                    if (r.index() == 0 && std::get<0>(r) == i) ++counts.first;
                    if (r.index() == 1 && std::get<1>(r) == i) ++counts.second;
                }
                co_return counts;
            });
        CHECK(wins.first + wins.second == 1000);
        CHECK(wins.first > 300);
        CHECK(wins.second > 300);

        // Go's TestSelectDuplicateChannel: A parks on c twice and on d; B parks on c; d wakes A,
        // which must withdraw both of its nodes from c so that a send on c reaches B.
        const int b_got = weft::run(weft::options{.workers = 2}, []() -> weft::task<int> {
            auto c = weft::make_chan<int>();
            auto d = weft::make_chan<int>();
            auto e = weft::make_chan<int>();
            weft::go(
                [](weft::chan<int> cc, weft::chan<int> dd, weft::chan<int> ee) -> weft::task<> {
                    co_await weft::select(weft::recv(cc), weft::recv(cc), weft::recv(dd));
                    co_await ee.send(9);
                },
                c, d, e);
            co_await pause_for(10ms);  // A is queued on c first
            auto b = weft::spawn(
                [](weft::chan<int> cc) -> weft::task<int> { co_return (co_await cc.recv()).value_or(-1); }, c);
            co_await pause_for(10ms);  // then B
            co_await d.send(7);        // wakes A, which dequeues itself from c
            co_await e.recv();
            co_await c.send(8);  // must reach B
            co_return co_await b;
        });
        CHECK(b_got == 8);

        // A send and a recv case on one buffered channel with room and a value: both are ready.
        const std::pair<int, int> mixed =
            weft::run(weft::options{.workers = 1}, []() -> weft::task<std::pair<int, int>> {
                auto c = weft::make_chan<int>(2);
                std::pair<int, int> counts{0, 0};
                for (int i = 0; i < 1000; ++i) {
                    while (c.size() > 1)
                        c.try_recv();
                    while (c.size() < 1)
                        c.try_send(-1);
                    auto r = co_await weft::select(weft::send(c, i), weft::recv(c));
                    if (r.index() == 0) ++counts.first;
                    if (r.index() == 1 && std::get<1>(r).has_value()) ++counts.second;
                }
                co_return counts;
            });
        CHECK(mixed.first + mixed.second == 1000);
        CHECK(mixed.first > 300);
        CHECK(mixed.second > 300);
    }

    TEST_CASE(
        "a select with a send and a recv case on the same channel never receives its own value (TestSelfSelect)") {
        const int iterations = static_cast<int>(weft_test::scaled(10'000, 1000));
        for (const unsigned workers : {1u, 2u}) {
            for (const std::size_t cap : {std::size_t{0}, std::size_t{10}}) {
                CAPTURE(workers);
                CAPTURE(cap);
                const int self = weft::run(
                    weft::options{.workers = workers},
                    [](std::size_t capacity, int n) -> weft::task<int> {
                        auto c = weft::make_chan<int>(capacity);
                        std::atomic<int> self_receives{0};
                        weft::wait_group wg;
                        wg.go(self_select, c, 0, n, std::ref(self_receives));
                        wg.go(self_select, c, 1, n, std::ref(self_receives));
                        co_await wg.wait();
                        co_return self_receives.load();
                    },
                    cap, iterations);
                CHECK(self == 0);
            }
        }
    }

    TEST_CASE("select chooses uniformly among ready cases: two always-ready cases over 100,000 selects") {
        // Go's TestSelectFairness: two buffered channels that are always ready and two that never
        // are; each ready one must win within 10 sigma of half.
        const int trials = static_cast<int>(weft_test::scaled(100'000, 10'000));
        const int first = weft::run(
            weft::options{.workers = 1},
            [](int n) -> weft::task<int> {
                auto c1 = weft::make_chan<int>(1);
                auto c2 = weft::make_chan<int>(1);
                auto c3 = weft::make_chan<int>();
                auto c4 = weft::make_chan<int>();
                c1.try_send(1);
                c2.try_send(2);
                int count1 = 0;
                for (int i = 0; i < n; ++i) {
                    auto r = co_await weft::select(weft::recv(c3), weft::recv(c4), weft::recv(c1), weft::recv(c2));
                    if (r.index() == 2) {
                        ++count1;
                        c1.try_send(1);
                    } else {
                        c2.try_send(2);
                    }
                }
                co_return count1;
            },
            trials);
        const double mean = trials * 0.5;
        const double sigma = std::sqrt(trials * 0.25);
        CAPTURE(first);
        CAPTURE(trials);
        CHECK(std::abs(first - mean) <= 10 * sigma);
    }

    TEST_CASE("select chooses pseudo-randomly between two send cases on one channel (TestPseudoRandomSend)") {
        constexpr int n = 100;
        for (const unsigned workers : {1u, 2u}) {
            for (const std::size_t cap : {std::size_t{0}, std::size_t{n}}) {
                CAPTURE(workers);
                CAPTURE(cap);
                const std::vector<int> got = weft::run(
                    weft::options{.workers = workers},
                    [](std::size_t capacity) -> weft::task<std::vector<int>> {
                        auto c = weft::make_chan<int>(capacity);
                        std::vector<int> values(n, -1);
                        weft::wait_group wg;
                        wg.go(
                            [](weft::chan<int> in, std::vector<int>& out) -> weft::task<> {
                                for (auto& v : out) {
                                    co_await weft::yield();
                                    v = (co_await in.recv()).value_or(-1);
                                }
                            },
                            c, std::ref(values));
                        for (int i = 0; i < n; ++i)
                            co_await weft::select(weft::send(c, 1), weft::send(c, 0));
                        co_await wg.wait();
                        co_return values;
                    },
                    cap);
                int zeros = 0;
                int ones = 0;
                for (const int v : got) {
                    zeros += v == 0 ? 1 : 0;
                    ones += v == 1 ? 1 : 0;
                }
                CAPTURE(zeros);
                CAPTURE(ones);
                CHECK(zeros + ones == n);
                CHECK(zeros > n / 10);
                CHECK(ones > n / 10);
            }
        }
    }

    TEST_CASE("select.go: send cases disabled one by one with nil never fire again") {
        // Go's test/chan/select.go: a loop of selects with two send cases and a default; each
        // channel is set to nil once it took a value, so the loop ends after exactly two sends.
        struct outcome {
            int sends_two = 0;
            int values_or = 0;
            int sends_one = 0;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            auto send_all = [](weft::chan<int> a, weft::chan<int> b) -> weft::task<int> {
                int sent = 0;
                for (int shift = 0;; ++shift) {
                    auto r =
                        co_await weft::select(weft::send(a, 1 << shift), weft::send(b, 1 << shift), weft::default_case);
                    if (r.index() == 2) break;
                    ++sent;
                    if (r.index() == 0) a = weft::chan<int>{};
                    if (r.index() == 1) b = weft::chan<int>{};
                }
                co_return sent;
            };
            auto a = weft::make_chan<int>(1);
            auto b = weft::make_chan<int>(1);
            outcome result;
            result.sends_two = co_await send_all(a, b);
            result.values_or = a.try_recv().value_or(0) | b.try_recv().value_or(0);
            result.sends_one = co_await send_all(a, weft::chan<int>{});
            co_return result;
        });
        CHECK(o.sends_two == 2);
        CHECK(o.values_or == 3);
        CHECK(o.sends_one == 1);
    }

    TEST_CASE(
        "a non-blocking select never takes default while one of its channels is always ready "
        "(TestNonblockSelectRace)") {
        const int rounds = static_cast<int>(weft_test::scaled(10'000, 500));
        for (const bool close_second : {false, true}) {
            CAPTURE(close_second);
            const int defaults = weft::run(
                weft::options{.workers = 2},
                [](int n, bool close_c2) -> weft::task<int> {
                    auto done = weft::make_chan<bool>(1);
                    int wrong = 0;
                    for (int i = 0; i < n; ++i) {
                        auto c1 = weft::make_chan<int>(1);
                        auto c2 = weft::make_chan<int>(close_c2 ? 0 : 1);
                        c1.try_send(1);
                        weft::go(
                            [](weft::chan<int> a, weft::chan<int> b, weft::chan<bool> d) -> weft::task<> {
                                auto r = co_await weft::select(weft::recv(a), weft::recv(b), weft::default_case);
                                co_await d.send(r.index() != 2);
                            },
                            c1, c2, done);
                        if (close_c2) {
                            c2.close();
                        } else {
                            c2.try_send(1);
                        }
                        co_await weft::select(weft::recv(c1), weft::default_case);
                        if (!(co_await done.recv()).value_or(false)) ++wrong;
                    }
                    co_return wrong;
                },
                rounds, close_second);
            CHECK(defaults == 0);
        }
    }

    TEST_CASE(
        "a value buffered when a concurrent close happens is never missed by a select with default_case "
        "(TestNonblockRecvRace)") {
        const int rounds = static_cast<int>(weft_test::scaled(10'000, 500));
        const int defaults = weft::run(
            weft::options{.workers = 2},
            [](int n) -> weft::task<int> {
                std::atomic<int> wrong{0};
                weft::wait_group wg;
                for (int i = 0; i < n; ++i) {
                    auto c = weft::make_chan<int>(1);
                    c.try_send(1);
                    wg.go(
                        [](weft::chan<int> ch, std::atomic<int>& w) -> weft::task<> {
                            auto r = co_await weft::select(weft::recv(ch), weft::default_case);
                            if (r.index() == 1) w.fetch_add(1);
                        },
                        c, std::ref(wrong));
                    c.close();
                    co_await c.recv();
                }
                co_await wg.wait();
                co_return wrong.load();
            },
            rounds);
        CHECK(defaults == 0);
    }

    TEST_CASE("selects in a loop with many senders and receivers lose and duplicate nothing (TestSelectStress)") {
        const int n = static_cast<int>(weft_test::scaled(10'000, 500));
        const std::vector<std::vector<std::size_t>> configurations = {{0, 0, 0, 0}, {10, 10, 10, 10}, {0, 0, 2, 3}};
        for (const auto& caps : configurations) {
            for (const unsigned workers : {1u, 2u, 4u}) {
                CAPTURE(caps[2]);
                CAPTURE(caps[3]);
                CAPTURE(workers);
                const std::size_t bad = weft::run(weft::options{.workers = workers}, select_stress, caps, n);
                CHECK(bad == 0);
            }
        }
    }

    TEST_CASE("a select over four channels, muxed back into one: every value arrives exactly once (doubleselect.go)") {
        const int n = static_cast<int>(weft_test::scaled(20'000, 1000));
        for (const unsigned workers : {1u, 2u, 4u}) {
            CAPTURE(workers);
            const double_select_outcome o = weft::run(weft::options{.workers = workers}, double_select, n);
            CHECK(o.received == n);
            CHECK(o.duplicates == 0);
        }
    }

    TEST_CASE("move-only values (std::unique_ptr<int>) through select's send and recv cases") {
        for (const std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{10}}) {
            CAPTURE(cap);
            struct outcome {
                int wrong = 0;
                int received = 0;
                std::size_t unsent_default = 99;
            };
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    auto c = weft::make_chan<std::unique_ptr<int>>(capacity);
                    auto quiet = weft::make_chan<std::unique_ptr<int>>();   // nobody receives
                    auto silent = weft::make_chan<std::unique_ptr<int>>();  // nobody sends
                    weft::go(
                        [](weft::chan<std::unique_ptr<int>> out, weft::chan<std::unique_ptr<int>> q) -> weft::task<> {
                            for (int i = 0; i < 500; ++i) {
                                // The send case that loses (quiet has no receiver) frees its value.
                                co_await weft::select(weft::send(out, std::make_unique<int>(i)),
                                                      weft::send(q, std::make_unique<int>(-i)));
                            }
                            out.close();
                        },
                        c, quiet);
                    outcome result;
                    for (int i = 0;; ++i) {
                        auto r = co_await weft::select(weft::recv(silent), weft::recv(c));
                        if (r.index() != 1) {
                            ++result.wrong;
                            continue;
                        }
                        auto& p = std::get<1>(r);
                        if (!p) break;
                        if (!*p || **p != i) ++result.wrong;
                        ++result.received;
                    }
                    // A send case that does not fire destroys its value with the select (ASan checks).
                    auto full = weft::make_chan<std::unique_ptr<int>>();
                    result.unsent_default =
                        (co_await weft::select(weft::send(full, std::make_unique<int>(1)), weft::default_case)).index();
                    co_return result;
                },
                cap);
            CHECK(o.wrong == 0);
            CHECK(o.received == 500);
            CHECK(o.unsent_default == 1);
        }
    }

    TEST_CASE("select takes send_chan and recv_chan views, and empty element types") {
        struct outcome {
            std::size_t index = 99;
            bool unit_received = false;
            std::size_t mono_index = 99;
        };
        const outcome o = weft::run(weft::options{.workers = 1}, []() -> weft::task<outcome> {
            auto c = weft::make_chan<weft::unit>(1000);
            auto m = weft::make_chan<std::monostate>(1);
            const weft::send_chan<weft::unit> s = c;
            const weft::recv_chan<weft::unit> r = c;
            outcome result;
            for (int i = 0; i < 1000; ++i)
                co_await weft::select(weft::send(s, weft::unit{}));
            auto full = co_await weft::select(weft::send(s, weft::unit{}), weft::default_case);
            result.index = full.index();
            auto got = co_await weft::select(weft::recv(r));
            result.unit_received = std::get<0>(got).has_value();
            const weft::send_chan<std::monostate> ms = m;
            co_await weft::select(weft::send(ms, std::monostate{}));
            result.mono_index =
                (co_await weft::select(weft::recv(weft::recv_chan<std::monostate>(m)), weft::default_case)).index();
            co_return result;
        });
        CHECK(o.index == 1);
        CHECK(o.unit_received);
        CHECK(o.mono_index == 0);
    }

    TEST_CASE("close from a plain std::thread wakes a parked select") {
        const std::pair<std::size_t, bool> got =
            weft::run(weft::options{.workers = 2}, []() -> weft::task<std::pair<std::size_t, bool>> {
                auto a = weft::make_chan<int>();
                auto b = weft::make_chan<int>();
                std::thread closer([b] {
                    std::this_thread::sleep_for(20ms);
                    b.close();
                });
                auto r = co_await weft::select(weft::recv(a), weft::recv(b));
                closer.join();
                co_return std::pair<std::size_t, bool>{r.index(), r.index() == 1 && !std::get<1>(r)};
            });
        CHECK(got.first == 1);
        CHECK(got.second);
    }

    TEST_CASE("memory model: plain writes before a select's send are visible after the matching receive") {
        for (const std::size_t cap : {std::size_t{0}, std::size_t{4}}) {
            CAPTURE(cap);
            const int bad = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<int> {
                    constexpr int n = 2000;
                    auto a = weft::make_chan<std::vector<int>*>(capacity);
                    auto b = weft::make_chan<std::vector<int>*>(capacity);
                    weft::go(
                        [](weft::chan<std::vector<int>*> x, weft::chan<std::vector<int>*> y) -> weft::task<> {
                            for (int i = 0; i < n; ++i) {
                                auto* v = new std::vector<int>(8, i);  // plain writes
                                co_await weft::select(weft::send(x, v), weft::send(y, v));
                            }
                        },
                        a, b);
                    // Buffered, the two channels may reorder the values: each vector must be
                    // whole, and every index must arrive once.
                    int wrong = 0;
                    std::vector<int> seen(n, 0);
                    for (int i = 0; i < n; ++i) {
                        auto r = co_await weft::select(weft::recv(a), weft::recv(b));
                        std::vector<int>* v = r.index() == 0 ? *std::get<0>(r) : *std::get<1>(r);
                        const int index = v->size() == 8 ? v->front() : -1;
                        for (const int x : *v)
                            wrong += x != index ? 1 : 0;
                        if (index >= 0 && index < n) ++seen[static_cast<std::size_t>(index)];
                        delete v;
                    }
                    for (const int count : seen)
                        wrong += count != 1 ? 1 : 0;
                    co_return wrong;
                },
                cap);
            CHECK(bad == 0);
        }
    }

}  // TEST_SUITE("select")
