// Provides the doctest cases for weft::chan under concurrency (include/weft/chan.hpp): FIFO
// order between tasks, many producers and consumers, close racing try_recv, plain std::threads,
// the memory model, and ports of Go's test/chan/{fifo,nonblock,sieve1}.go and
// src/runtime/chan_test.go (TestNonblockRecvRace, TestMultiConsumer). The operations of one
// channel are in chan_test.cpp.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Go's TestChan runs every check for many capacities; these are the interesting ones.
constexpr std::size_t capacities[] = {0, 1, 10, 1000};

using weft_test::drain_into;  // test_support.hpp
using weft_test::send_range;

// Go's test/chan/sieve1.go: the numbers 2, 3, 4, ... and a chain of divisibility filters.
weft::task<> generate(weft::send_chan<int> out) {
    for (int i = 2;; ++i)
        co_await out.send(i);
}
weft::task<> filter(weft::recv_chan<int> in, weft::send_chan<int> out, int prime) {
    while (auto v = co_await in.recv()) {
        if (*v % prime != 0) co_await out.send(*v);
    }
}
weft::task<> sieve(weft::send_chan<int> primes) {
    auto ch = weft::make_chan<int>();
    weft::go(generate, ch);
    for (;;) {
        const auto prime = co_await ch.recv();
        co_await primes.send(*prime);
        auto next = weft::make_chan<int>();
        weft::go(filter, ch, next, *prime);
        ch = next;
    }
}
std::vector<int> first_primes(std::size_t n) {
    std::vector<int> primes;
    std::vector<bool> composite(200'000);
    for (std::size_t i = 2; primes.size() < n; ++i) {
        if (composite[i]) continue;
        primes.push_back(static_cast<int>(i));
        for (std::size_t j = i * i; j < composite.size(); j += i)
            composite[j] = true;
    }
    return primes;
}

// Go's test/chan/fifo.go SynchFifo: link i waits for its turn, then must receive exactly i.
weft::task<> fifo_link(weft::recv_chan<int> values, int expected, weft::recv_chan<int> turn, weft::send_chan<int> next,
                       std::atomic<int>& wrong) {
    co_await turn.recv();
    const auto v = co_await values.recv();
    if (!v || *v != expected) wrong.fetch_add(1);
    co_await next.send(1);
}

// Go's TestMultiConsumer worker: forwards `q` to `r`, yielding now and then.
weft::task<> forward_worker(weft::recv_chan<int> q, weft::send_chan<int> r, int w) {
    static constexpr int pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    while (auto v = co_await q.recv()) {
        if (pn[w % 10] == *v) co_await weft::yield();
        co_await r.send(*v);
    }
}
weft::task<> feed_and_close(weft::send_chan<int> q, weft::send_chan<int> r, weft::wait_group& workers, int niter,
                            std::int64_t& expect) {
    static constexpr int pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
    for (int i = 0; i < niter; ++i) {
        const int v = pn[i % 10];
        expect += v;
        co_await q.send(v);
    }
    q.close();                // no more work
    co_await workers.wait();  // every worker has drained q
    r.close();                // so there can be no more results
}

template <class T>
weft::task<> recv_one_into(weft::chan<T> c, std::optional<T>& out, std::atomic<bool>& done) {
    out = co_await c.recv();
    done.store(true);
}

}  // namespace

TEST_SUITE("chan") {
    TEST_CASE("1,000 values from one sender arrive in FIFO order") {
        for (const unsigned workers : {1u, 2u}) {
            for (const std::size_t cap : capacities) {
                CAPTURE(workers);
                CAPTURE(cap);
                const std::vector<int> got = weft::run(
                    weft::options{.workers = workers},
                    [](std::size_t capacity) -> weft::task<std::vector<int>> {
                        auto c = weft::make_chan<int>(capacity);
                        weft::go(send_range, c, 0, 1000);
                        std::vector<int> values;
                        for (int i = 0; i < 1000; ++i)
                            values.push_back(*co_await c.recv());
                        co_return values;
                    },
                    cap);
                std::vector<int> expected(1000);
                for (int i = 0; i < 1000; ++i)
                    expected[static_cast<std::size_t>(i)] = i;
                CHECK(got == expected);
            }
        }
    }

    TEST_CASE("an unbuffered channel hands values to a chain of receivers in order (fifo.go)") {
        const int wrong = weft::run(weft::options{.workers = 2}, []() -> weft::task<int> {
            constexpr int links = 10;
            auto values = weft::make_chan<int>();
            std::atomic<int> bad{0};
            auto start = weft::make_chan<int>();
            auto in = start;
            for (int i = 0; i < links; ++i) {
                auto out = weft::make_chan<int>();
                weft::go(fifo_link, values, i, in, out, std::ref(bad));
                in = out;
            }
            co_await start.send(0);
            for (int i = 0; i < links; ++i)
                co_await values.send(i);
            co_await in.recv();
            co_return bad.load();
        });
        CHECK(wrong == 0);
    }

    TEST_CASE("4 producers and 4 consumers: every value arrives exactly once") {
        const std::size_t per_producer = weft_test::scaled(25'000, 100);  // 100,000 values at scale 1
        for (const std::size_t cap : capacities) {
            CAPTURE(cap);
            const std::vector<int> seen = weft::run(
                weft::options{.workers = 4},
                [](std::size_t capacity, std::size_t per) -> weft::task<std::vector<int>> {
                    auto c = weft::make_chan<int>(capacity);
                    weft::wait_group producers;
                    weft::wait_group consumers;
                    std::vector<std::vector<int>> got(4);
                    for (int p = 0; p < 4; ++p) {
                        const int from = p * static_cast<int>(per);
                        producers.go(send_range, c, from, from + static_cast<int>(per));
                    }
                    for (auto& out : got)
                        consumers.go(drain_into, c, std::ref(out));
                    co_await producers.wait();
                    c.close();
                    co_await consumers.wait();
                    std::vector<int> counts(4 * per);
                    for (const auto& out : got) {
                        for (const int v : out)
                            ++counts[static_cast<std::size_t>(v)];
                    }
                    co_return counts;
                },
                cap, per_producer);
            std::size_t not_once = 0;
            for (const int n : seen)
                not_once += n != 1 ? 1 : 0;
            CHECK(seen.size() == 4 * per_producer);
            CHECK(not_once == 0);
        }
    }

    TEST_CASE("a value buffered when a concurrent close happens is never missed by try_recv (TestNonblockRecvRace)") {
        const std::size_t rounds = weft_test::scaled(10'000, 200);
        const std::size_t missed = weft::run(
            weft::options{.workers = 2},
            [](std::size_t n) -> weft::task<std::size_t> {
                std::atomic<std::size_t> misses{0};
                weft::wait_group wg;
                for (std::size_t i = 0; i < n; ++i) {
                    auto c = weft::make_chan<int>(1);
                    co_await c.send(1);
                    wg.go(
                        [](weft::chan<int> ch, std::atomic<std::size_t>& m) -> weft::task<> {
                            if (ch.try_recv() != 1) m.fetch_add(1);
                            co_return;
                        },
                        c, std::ref(misses));
                    c.close();  // races with the try_recv; the value stays until it is taken
                }
                co_await wg.wait();
                co_return misses.load();
            },
            rounds);
        CHECK(missed == 0);
    }

    TEST_CASE("try_send hands a value to a parked receiver and try_recv takes one from a parked sender (nonblock.go)") {
        // Several element types, as Go's nonblock.go does; unbuffered and one-slot channels.
        struct outcome {
            bool receiver_got = false;
            bool sender_value = false;
            bool big_receiver_got = false;
            bool big_sender_value = false;
        };
        for (const std::size_t cap : {std::size_t{0}, std::size_t{1}}) {
            CAPTURE(cap);
            const outcome o = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<outcome> {
                    outcome result;
                    {
                        auto c = weft::make_chan<std::int32_t>(capacity);
                        std::optional<std::int32_t> got;
                        std::atomic<bool> done{false};
                        weft::go(recv_one_into<std::int32_t>, c, std::ref(got), std::ref(done));
                        while (!c.try_send(123))
                            co_await weft::yield();  // succeeds once it has parked
                        while (!done.load())
                            co_await weft::yield();
                        result.receiver_got = got == 123;
                        weft::go([](weft::chan<std::int32_t> ch) -> weft::task<> { co_await ch.send(234); }, c);
                        std::optional<std::int32_t> taken;
                        while (!(taken = c.try_recv()))
                            co_await weft::yield();
                        result.sender_value = taken == 234;
                    }
                    {
                        auto c = weft::make_chan<std::string>(capacity);
                        std::optional<std::string> got;
                        std::atomic<bool> done{false};
                        weft::go(recv_one_into<std::string>, c, std::ref(got), std::ref(done));
                        const std::string hello(100, 'h');  // not in the small-string buffer
                        while (!c.try_send(hello))
                            co_await weft::yield();
                        while (!done.load())
                            co_await weft::yield();
                        result.big_receiver_got = got == hello;
                        weft::go(
                            [](weft::chan<std::string> ch) -> weft::task<> { co_await ch.send(std::string(80, 'a')); },
                            c);
                        std::optional<std::string> taken;
                        while (!(taken = c.try_recv()))
                            co_await weft::yield();
                        result.big_sender_value = taken == std::string(80, 'a');
                    }
                    co_return result;
                },
                cap);
            CHECK(o.receiver_got);
            CHECK(o.sender_value);
            CHECK(o.big_receiver_got);
            CHECK(o.big_sender_value);
        }
    }

    TEST_CASE("try_send and close from a plain std::thread reach a task parked in recv") {
        struct outcome {
            std::optional<int> first;
            bool second_is_nullopt = false;
            bool thread_sent = false;
        };
        const outcome o = weft::run(weft::options{.workers = 2}, []() -> weft::task<outcome> {
            auto c = weft::make_chan<int>();
            std::atomic<bool> sent{false};
            std::thread outsider([c, &sent] {
                std::this_thread::sleep_for(20ms);
                // Unbuffered: try_send succeeds only once the receiver below is parked.
                while (!c.try_send(42))
                    std::this_thread::sleep_for(1ms);
                sent.store(true);
                std::this_thread::sleep_for(20ms);
                c.close();
            });
            outcome result;
            result.first = co_await c.recv();
            result.second_is_nullopt = !(co_await c.recv()).has_value();
            outsider.join();
            result.thread_sent = sent.load();
            co_return result;
        });
        CHECK(o.first == 42);
        CHECK(o.second_is_nullopt);
        CHECK(o.thread_sent);
    }

    TEST_CASE("memory model: plain writes before a send are visible after the matching receive") {
        for (const std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{10}}) {
            CAPTURE(cap);
            const std::size_t bad = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<std::size_t> {
                    struct payload {
                        int number = 0;
                        std::string text;
                    };
                    constexpr int n = 2000;
                    auto c = weft::make_chan<payload*>(capacity);
                    weft::go(
                        [](weft::chan<payload*> out) -> weft::task<> {
                            for (int i = 0; i < n; ++i) {
                                auto* p = new payload;  // plain, non-atomic writes
                                p->number = i;
                                p->text = std::to_string(i);
                                co_await out.send(p);
                            }
                        },
                        c);
                    std::size_t wrong = 0;
                    for (int i = 0; i < n; ++i) {
                        payload* p = *co_await c.recv();
                        if (p->number != i || p->text != std::to_string(i)) ++wrong;
                        delete p;
                    }
                    co_return wrong;
                },
                cap);
            CHECK(bad == 0);
        }
    }

    TEST_CASE("memory model: the k-th receive happens before the (k+C)-th send completes") {
        // Go's rule for a channel of capacity C (C = 0: a receive happens before its send
        // completes). The receiver writes slot k before its k-th receive; the sender reads
        // slot k after its (k+C)-th send returns. TSan checks the ordering.
        for (const std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{10}}) {
            CAPTURE(cap);
            const std::size_t bad = weft::run(
                weft::options{.workers = 2},
                [](std::size_t capacity) -> weft::task<std::size_t> {
                    constexpr std::size_t n = 2000;
                    std::vector<int> slots(n, 0);  // plain ints
                    auto c = weft::make_chan<int>(capacity);
                    weft::wait_group wg;
                    wg.go(
                        [](weft::chan<int> in, std::vector<int>& s) -> weft::task<> {
                            for (std::size_t k = 0; k < n; ++k) {
                                s[k] = static_cast<int>(k) + 1;
                                co_await in.recv();
                            }
                        },
                        c, std::ref(slots));
                    std::size_t wrong = 0;
                    for (std::size_t s = 0; s < n; ++s) {
                        co_await c.send(static_cast<int>(s));
                        if (s >= capacity && slots[s - capacity] != static_cast<int>(s - capacity) + 1) ++wrong;
                    }
                    co_await wg.wait();
                    co_return wrong;
                },
                cap);
            CHECK(bad == 0);
        }
    }

    TEST_CASE("memory model: writes before close are visible to a receive that returns nullopt because of it") {
        const int bad = weft::run(weft::options{.workers = 2}, []() -> weft::task<int> {
            int wrong = 0;
            for (int round = 0; round < 200; ++round) {
                auto c = weft::make_chan<int>();
                auto seen = std::make_shared<int>(0);  // plain int, written before close
                auto j = weft::spawn(
                    [](weft::chan<int> ch, std::shared_ptr<int> value) -> weft::task<int> {
                        const auto v = co_await ch.recv();
                        co_return v ? -1 : *value;
                    },
                    c, seen);
                *seen = round + 1;
                c.close();
                const int got = co_await j;
                if (got != round + 1) ++wrong;
            }
            co_return wrong;
        });
        CHECK(bad == 0);
    }

    TEST_CASE("prime sieve: the first 1,000 primes through a chain of filter tasks (sieve1.go)") {
        const std::size_t count = weft_test::scaled(1000, 200);
        const std::vector<int> got = weft::run(
            weft::options{.workers = 2},
            [](std::size_t n) -> weft::task<std::vector<int>> {
                auto primes = weft::make_chan<int>();
                weft::go(sieve, primes);
                std::vector<int> values;
                for (std::size_t i = 0; i < n; ++i)
                    values.push_back(*co_await primes.recv());
                co_return values;  // the sieve's tasks stay parked and are destroyed by run
            },
            count);
        CHECK(got == first_primes(count));
    }

    TEST_CASE("23 workers drain a closed queue and a wait_group tells when to close the results (TestMultiConsumer)") {
        const int niter = static_cast<int>(weft_test::scaled(271'828, 1000));
        struct outcome {
            int n = 0;
            std::int64_t sum = 0;
            std::int64_t expect = -1;
        };
        const outcome o = weft::run(
            weft::options{.workers = 4},
            [](int iterations) -> weft::task<outcome> {
                constexpr int nwork = 23;
                auto q = weft::make_chan<int>(nwork * 3);
                auto r = weft::make_chan<int>(nwork * 3);
                weft::wait_group workers;
                for (int w = 0; w < nwork; ++w)
                    workers.go(forward_worker, q, r, w);
                outcome result;
                result.expect = 0;
                weft::go(feed_and_close, q, r, std::ref(workers), iterations, std::ref(result.expect));
                while (auto v = co_await r.recv()) {
                    ++result.n;
                    result.sum += *v;
                }
                co_return result;
            },
            niter);
        CHECK(o.n == niter);
        CHECK(o.sum == o.expect);
    }

}  // TEST_SUITE("chan")
