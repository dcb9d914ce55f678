// Provides the channel and select stress tests: many producers and consumers, Go's select
// stress and doubleselect at full size, close racing with parked senders, receivers and
// selects, ping-pong pairs, and shutdown with tasks parked everywhere; each on 1, 2 and 4
// workers. Sized by WEFT_TEST_SCALE like the unit tests.
#include <weft/weft.hpp>

#include "../test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace {

constexpr unsigned worker_counts[] = {1, 2, 4};

std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Counts the values of `got` in [0, limit) and returns how many were not seen exactly once
// (values out of range count as wrong too).
std::size_t not_exactly_once(const std::vector<std::vector<int>>& got, std::size_t limit) {
    std::vector<int> counts(limit);
    std::size_t wrong = 0;
    for (const auto& values : got) {
        for (const int v : values) {
            if (v < 0 || static_cast<std::size_t>(v) >= limit) {
                ++wrong;
            } else {
                ++counts[static_cast<std::size_t>(v)];
            }
        }
    }
    for (const int c : counts)
        wrong += c != 1 ? 1 : 0;
    return wrong;
}

// --- many producers, many consumers ---------------------------------------------------------

using weft_test::drain_into;  // test_support.hpp
using weft_test::send_range;
weft::task<std::size_t> producers_consumers(std::size_t capacity, int per_producer) {
    auto c = weft::make_chan<int>(capacity);
    weft::wait_group producers;
    weft::wait_group consumers;
    std::vector<std::vector<int>> got(4);
    for (int p = 0; p < 4; ++p)
        producers.go(send_range, c, p * per_producer, (p + 1) * per_producer);
    for (auto& out : got)
        consumers.go(drain_into, c, std::ref(out));
    co_await producers.wait();
    c.close();
    co_await consumers.wait();
    co_return not_exactly_once(got, static_cast<std::size_t>(4 * per_producer));
}

// --- every kind of operation at once ---------------------------------------------------------

// Sends [from, to) with a mix of send, try_send and select (with and without default_case).
weft::task<> mixed_sender(weft::chan<int> c, weft::chan<int> never, int from, int to, std::uint64_t seed) {
    for (int i = from; i < to; ++i) {
        switch (mix(seed + static_cast<std::uint64_t>(i)) % 4) {
            case 0:
                co_await c.send(i);
                break;
            case 1:
                while (!c.try_send(i))
                    co_await weft::yield();
                break;
            case 2:
                co_await weft::select(weft::recv(never), weft::send(c, i));
                break;
            default:
                for (;;) {
                    auto r = co_await weft::select(weft::send(c, i), weft::default_case);
                    if (r.index() == 0) break;
                    co_await weft::yield();
                }
                break;
        }
    }
}
// Receives until closed and drained with a mix of recv, try_recv and select.
weft::task<> mixed_receiver(weft::chan<int> c, weft::chan<int> never, std::uint64_t seed, std::vector<int>& out) {
    for (std::uint64_t k = 0;; ++k) {
        std::optional<int> v;
        switch (mix(seed + k) % 3) {
            case 0:
                v = co_await c.recv();
                break;
            case 1: {
                auto r = co_await weft::select(weft::recv(c), weft::recv(never));
                if (r.index() == 0) v = std::move(std::get<0>(r));
                break;
            }
            default: {
                // try_recv cannot tell "closed" from "empty": a select with default_case can.
                if (auto t = c.try_recv()) {
                    v = t;
                    break;
                }
                auto r = co_await weft::select(weft::recv(c), weft::default_case);
                if (r.index() == 1) {
                    co_await weft::yield();
                    continue;
                }
                v = std::move(std::get<0>(r));
                break;
            }
        }
        if (!v) co_return;
        out.push_back(*v);
    }
}
weft::task<std::size_t> mixed_operations(std::size_t capacity, int per_producer, std::uint64_t seed) {
    constexpr int producers = 6;
    constexpr std::size_t consumers = 6;
    auto c = weft::make_chan<int>(capacity);
    auto never = weft::make_chan<int>();
    weft::wait_group sending;
    weft::wait_group receiving;
    std::vector<std::vector<int>> got(consumers);
    for (int p = 0; p < producers; ++p) {
        sending.go(mixed_sender, c, never, p * per_producer, (p + 1) * per_producer,
                   seed + static_cast<std::uint64_t>(p) * 1'000'003);
    }
    for (std::size_t k = 0; k < consumers; ++k)
        receiving.go(mixed_receiver, c, never, seed ^ (k << 40), std::ref(got[k]));
    co_await sending.wait();
    c.close();
    co_await receiving.wait();
    co_return not_exactly_once(got, static_cast<std::size_t>(producers * per_producer));
}

// --- many selects parked on shared channels -------------------------------------------------

weft::task<> select_once(weft::chan<int> a, weft::chan<int> b, std::vector<int>& out) {
    auto r = co_await weft::select(weft::recv(a), weft::recv(b));
    const std::optional<int> v = r.index() == 0 ? std::get<0>(r) : std::get<1>(r);
    out.push_back(v.value_or(-1));
}
// `waiters` selects park on two shared unbuffered channels; as many values are sent, half
// on each; every select must complete with exactly one, and no value may be lost.
weft::task<std::size_t> parked_selects(int waiters) {
    auto a = weft::make_chan<int>();
    auto b = weft::make_chan<int>();
    std::vector<std::vector<int>> got(static_cast<std::size_t>(waiters));
    weft::wait_group wg;
    for (auto& out : got)
        wg.go(select_once, a, b, std::ref(out));
    for (int i = 0; i < waiters; ++i) {
        if (i % 2 == 0) {
            co_await a.send(i);
        } else {
            co_await b.send(i);
        }
    }
    co_await wg.wait();
    std::size_t wrong = not_exactly_once(got, static_cast<std::size_t>(waiters));
    for (const auto& out : got)
        wrong += out.size() != 1 ? 1 : 0;
    wrong += a.try_send(-1) ? 1 : 0;  // no select may still be queued
    wrong += b.try_send(-1) ? 1 : 0;
    co_return wrong;
}

// --- Go's TestSelectStress ------------------------------------------------------------------

// Channel k, source s (0: a plain sender, 1: the selecting sender), index i.
int tag(int k, int source, int i, int n) {
    return (k * 2 + source) * n + i;
}

weft::task<> plain_sender(weft::chan<int> c, int k, int n) {
    for (int i = 0; i < n; ++i)
        co_await c.send(tag(k, 0, i, n));
}
weft::task<> plain_receiver(weft::chan<int> c, int n, std::vector<int>& got) {
    for (int i = 0; i < n; ++i)
        got.push_back((co_await c.recv()).value_or(-1));
}
weft::task<> select_sender(std::vector<weft::chan<int>> c, int n) {
    int sent[4] = {0, 0, 0, 0};
    constexpr int channel_of[] = {3, 2, 0, 1};
    for (int i = 0; i < 4 * n; ++i) {
        auto r =
            co_await weft::select(weft::send(c[3], tag(3, 1, sent[3], n)), weft::send(c[2], tag(2, 1, sent[2], n)),
                                  weft::send(c[0], tag(0, 1, sent[0], n)), weft::send(c[1], tag(1, 1, sent[1], n)));
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
        got.push_back(v.value_or(-1));
        if (++received[k] == n) c[k] = weft::chan<int>{};
    }
}
weft::task<std::size_t> select_stress(std::vector<std::size_t> caps, int n) {
    std::vector<weft::chan<int>> c;
    for (const std::size_t cap : caps)
        c.push_back(weft::make_chan<int>(cap));
    std::vector<std::vector<int>> got(5);
    weft::wait_group wg;
    for (std::size_t k = 0; k < 4; ++k) {
        wg.go(plain_sender, c[k], static_cast<int>(k), n);
        wg.go(plain_receiver, c[k], n, std::ref(got[k]));
    }
    wg.go(select_sender, c, n);
    wg.go(select_receiver, c, n, std::ref(got[4]));
    co_await wg.wait();
    co_return not_exactly_once(got, static_cast<std::size_t>(8 * n));
}

// --- Go's test/chan/doubleselect.go ---------------------------------------------------------

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
weft::task<std::size_t> double_select(int n) {
    std::vector<weft::chan<int>> c;
    for (int k = 0; k < 4; ++k)
        c.push_back(weft::make_chan<int>());
    auto cmux = weft::make_chan<int>();
    weft::go(double_select_sender, n, c[0], c[1], c[2], c[3]);
    weft::wait_group muxes;
    for (const auto& in : c)
        muxes.go(mux, cmux, in);
    weft::go(close_when_done, std::ref(muxes), cmux);
    std::vector<std::vector<int>> got(1);
    while (auto v = co_await cmux.recv())
        got[0].push_back(*v);
    co_return not_exactly_once(got, static_cast<std::size_t>(n));
}

// --- close racing with parked senders, receivers and selects --------------------------------

constexpr int values_per_sender = 64;

// Sends its values in order until the channel is closed; `sent` is how many went through.
weft::task<> send_until_closed(weft::chan<int> c, weft::chan<int> never, int first, bool use_select, int& sent) {
    try {
        for (int i = 0; i < values_per_sender; ++i) {
            if (use_select) {
                co_await weft::select(weft::send(c, first + i), weft::recv(never));
            } else {
                co_await c.send(first + i);
            }
            ++sent;
        }
    } catch (const weft::channel_closed&) {
        // expected once close wins the race
    }
}
weft::task<> recv_until_closed(weft::chan<int> c, weft::chan<int> never, bool use_select, std::vector<int>& got) {
    for (;;) {
        std::optional<int> v;
        if (use_select) {
            auto r = co_await weft::select(weft::recv(never), weft::recv(c));
            if (r.index() == 1) v = std::move(std::get<1>(r));
        } else {
            v = co_await c.recv();
        }
        if (!v) break;
        got.push_back(*v);
    }
}

// One round: 4 senders and 4 receivers (half of each through select) and a close after a
// random number of yields. Every value whose send returned must be received exactly once,
// and nothing else. Returns the number of violations.
weft::task<std::size_t> close_race_round(std::uint64_t seed) {
    constexpr std::size_t caps[] = {0, 1, 4, 64};
    const std::uint64_t r = mix(seed);
    auto c = weft::make_chan<int>(caps[r % 4]);
    auto never = weft::make_chan<int>();
    std::vector<int> sent(4, 0);
    std::vector<std::vector<int>> got(4);
    weft::wait_group wg;
    for (int s = 0; s < 4; ++s) {
        wg.go(send_until_closed, c, never, s * values_per_sender, s % 2 == 1,
              std::ref(sent[static_cast<std::size_t>(s)]));
    }
    for (std::size_t k = 0; k < 4; ++k)
        wg.go(recv_until_closed, c, never, k % 2 == 1, std::ref(got[k]));
    const int yields = static_cast<int>((r >> 8) % 64);
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
    c.close();
    co_await wg.wait();
    // Expected: the prefix of each sender's values that went through.
    std::vector<int> expected(4 * values_per_sender, 0);
    for (int s = 0; s < 4; ++s) {
        for (int i = 0; i < sent[static_cast<std::size_t>(s)]; ++i)
            expected[static_cast<std::size_t>(s * values_per_sender + i)] = 1;
    }
    std::vector<int> counts(4 * values_per_sender, 0);
    std::size_t wrong = 0;
    for (const auto& values : got) {
        for (const int v : values) {
            if (v < 0 || v >= 4 * values_per_sender) {
                ++wrong;
            } else {
                ++counts[static_cast<std::size_t>(v)];
            }
        }
    }
    for (std::size_t i = 0; i < counts.size(); ++i)
        wrong += counts[i] != expected[i] ? 1 : 0;
    co_return wrong;
}
weft::task<std::size_t> close_races(int rounds, std::uint64_t seed) {
    std::size_t wrong = 0;
    for (int i = 0; i < rounds; ++i)
        wrong += co_await close_race_round(seed + static_cast<std::uint64_t>(i));
    co_return wrong;
}

// --- ping-pong pairs ------------------------------------------------------------------------

weft::task<> pong(weft::chan<int> in, weft::chan<int> out) {
    while (auto v = co_await in.recv())
        co_await out.send(*v + 1);
    out.close();
}
weft::task<> ping(weft::chan<int> out, weft::chan<int> in, int rounds, std::atomic<int>& wrong) {
    for (int i = 0; i < rounds; ++i) {
        co_await out.send(2 * i);
        const auto back = co_await in.recv();
        if (back != 2 * i + 1) wrong.fetch_add(1);
    }
    out.close();
    if (co_await in.recv()) wrong.fetch_add(1);  // pong closes its side after ours
}
weft::task<int> ping_pong_pairs(int pairs, int rounds) {
    std::atomic<int> wrong{0};
    weft::wait_group wg;
    for (int p = 0; p < pairs; ++p) {
        auto there = weft::make_chan<int>();
        auto back = weft::make_chan<int>();
        wg.go(pong, there, back);
        wg.go(ping, there, back, rounds, std::ref(wrong));
    }
    co_await wg.wait();
    co_return wrong.load();
}

// --- bursts of short tasks, each delivering one value -----------------------------------------

weft::task<> deliver(weft::chan<int> out, int id) {
    co_await out.send(id);
}
// Each round spawns 4 tasks that send their id and receives 4 values: each id of the round
// exactly once. A task run twice (a scheduler bug) shows up as a duplicate or a stray id.
weft::task<std::size_t> burst_rounds(int rounds) {
    constexpr int k = 4;
    auto out = weft::make_chan<int>(2);  // two of the four park in send: more wake-ups
    std::size_t wrong = 0;
    for (int r = 0; r < rounds; ++r) {
        for (int i = 0; i < k; ++i)
            weft::go(deliver, out, r * k + i);
        bool seen[k] = {};
        for (int i = 0; i < k; ++i) {
            const int v = (co_await out.recv()).value_or(-1);
            const int slot = v - r * k;
            if (slot < 0 || slot >= k || seen[slot]) {
                ++wrong;
            } else {
                seen[slot] = true;
            }
        }
    }
    for (int i = 0; i < 100; ++i)
        co_await weft::yield();
    wrong += out.try_recv().has_value() ? 1 : 0;  // nothing extra may arrive
    co_return wrong;
}

// --- shutdown with tasks parked on channels and selects -------------------------------------

weft::task<> park_recv(weft::chan<weft_test::probe> c, weft_test::probe) {
    co_await c.recv();
}
weft::task<> park_send(weft::chan<weft_test::probe> c, weft_test::probe p) {
    co_await c.send(std::move(p));
}
weft::task<> park_select(weft::chan<weft_test::probe> a, weft::chan<weft_test::probe> b, weft_test::probe p) {
    co_await weft::select(weft::recv(a), weft::send(b, std::move(p)));
}
weft::task<> churn(weft::chan<int> c) {
    for (int i = 0;; ++i) {
        co_await weft::select(weft::send(c, i), weft::recv(c));
        co_await weft::yield();  // buffered, the select never parks: let the main task run
    }
}
weft::task<> shutdown_round(std::atomic<long>& live, std::uint64_t seed) {
    const std::uint64_t r = mix(seed);
    auto empty = weft::make_chan<weft_test::probe>(r % 2);
    auto full = weft::make_chan<weft_test::probe>(1);
    full.try_send(weft_test::probe{live});
    auto busy = weft::make_chan<int>(r % 3);
    const int n = 1 + static_cast<int>((r >> 4) % 8);
    for (int i = 0; i < n; ++i) {
        weft::go(park_recv, empty, weft_test::probe{live});
        weft::go(park_send, full, weft_test::probe{live});
        weft::go(park_select, empty, full, weft_test::probe{live});
        weft::go(churn, busy);
    }
    const int yields = static_cast<int>((r >> 8) % 16);
    for (int i = 0; i < yields; ++i)
        co_await weft::yield();
}

}  // namespace

TEST_SUITE("chan stress") {
    TEST_CASE("4 producers x 4 consumers x 100,000 values each arrive exactly once, on 1, 2 and 4 workers") {
        const int per_producer = static_cast<int>(weft_test::scaled(100'000, 1000));
        for (const unsigned workers : worker_counts) {
            for (const std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{10}, std::size_t{1000}}) {
                CAPTURE(workers);
                CAPTURE(cap);
                const std::size_t wrong =
                    weft::run(weft::options{.workers = workers}, producers_consumers, cap, per_producer);
                CHECK(wrong == 0);
            }
        }
    }

    TEST_CASE(
        "send, try_send, select and select-with-default against recv, try_recv and select: nothing lost or doubled") {
        const int per_producer = static_cast<int>(weft_test::scaled(150'000, 500));
        for (const unsigned workers : worker_counts) {
            for (const std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
                CAPTURE(workers);
                CAPTURE(cap);
                const std::size_t wrong = weft::run(weft::options{.workers = workers}, mixed_operations, cap,
                                                    per_producer, std::uint64_t{workers * 1000 + cap});
                CHECK(wrong == 0);
            }
        }
    }

    TEST_CASE("10,000 selects parked on two shared channels each complete exactly once") {
        const int waiters = static_cast<int>(weft_test::scaled(10'000, 200));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            for (int round = 0; round < 5; ++round) {
                const std::size_t wrong = weft::run(weft::options{.workers = workers}, parked_selects, waiters);
                CHECK(wrong == 0);
            }
        }
    }

    TEST_CASE("TestSelectStress at full size: selects and plain operations on four channels lose nothing") {
        const int n = static_cast<int>(weft_test::scaled(100'000, 1000));
        const std::vector<std::vector<std::size_t>> configurations = {{0, 0, 0, 0}, {10, 10, 10, 10}, {0, 0, 2, 3}};
        for (const auto& caps : configurations) {
            for (const unsigned workers : worker_counts) {
                CAPTURE(caps[0]);
                CAPTURE(caps[3]);
                CAPTURE(workers);
                const std::size_t wrong = weft::run(weft::options{.workers = workers}, select_stress, caps, n);
                CHECK(wrong == 0);
            }
        }
    }

    TEST_CASE("doubleselect at full size: every value sent by a four-way select arrives exactly once") {
        const int n = static_cast<int>(weft_test::scaled(300'000, 1000));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            const std::size_t wrong = weft::run(weft::options{.workers = workers}, double_select, n);
            CHECK(wrong == 0);
        }
    }

    TEST_CASE("close racing with parked senders, receivers and selects: exactly the values sent are received") {
        const int rounds = static_cast<int>(weft_test::scaled(10'000, 100));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            const std::size_t wrong =
                weft::run(weft::options{.workers = workers}, close_races, rounds, std::uint64_t{workers} << 32);
            CHECK(wrong == 0);
        }
    }

    TEST_CASE("ping-pong pairs over unbuffered channels keep every round trip in order") {
        const int rounds = static_cast<int>(weft_test::scaled(100'000, 500));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            const int wrong = weft::run(weft::options{.workers = workers}, ping_pong_pairs, 16, rounds);
            CHECK(wrong == 0);
        }
    }

    TEST_CASE("bursts of spawned tasks each deliver their one value exactly once") {
        const int rounds = static_cast<int>(weft_test::scaled(200'000, 2000));
        for (const unsigned workers : {2u, 4u}) {
            CAPTURE(workers);
            const std::size_t wrong = weft::run(weft::options{.workers = workers}, burst_rounds, rounds);
            CHECK(wrong == 0);
        }
    }

    TEST_CASE(
        "run returns while tasks are parked in send, recv and select or selecting in a loop; every frame is freed") {
        const int cycles = static_cast<int>(weft_test::scaled(1000, 20));
        for (const unsigned workers : worker_counts) {
            CAPTURE(workers);
            std::atomic<long> live{0};
            for (int i = 0; i < cycles; ++i) {
                weft::run(weft::options{.workers = workers}, shutdown_round, std::ref(live),
                          (std::uint64_t{workers} << 32) + static_cast<std::uint64_t>(i));
                if (live.load() != 0) break;
            }
            CHECK(live.load() == 0);
        }
    }

}  // TEST_SUITE("chan stress")
