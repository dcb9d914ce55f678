// Provides the chan_mpmc benchmark: 4 producers and 4 consumers moving 10,000,000 ints through one channel, buffered
// (1024) and unbuffered — M items/s for each.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace {

constexpr int producers = 4;
constexpr int consumers = 4;
constexpr long items = 10'000'000;
constexpr long per_producer = items / producers;
constexpr long expected_sum = items * (items - 1) / 2;  // every value in [0, items) exactly once

struct tally {
    long count = 0;
    long sum = 0;
};

// Sends [first, first + per_producer).
weft::task<> produce(weft::chan<long> ch, long first) {
    for (long v = first; v < first + per_producer; ++v)
        co_await ch.send(v);
}

// Receives until the channel is closed and drained; leaves its count and sum in `out`.
weft::task<> consume(weft::chan<long> ch, tally& out) {
    long count = 0;
    long sum = 0;
    while (auto v = co_await ch.recv()) {
        ++count;
        sum += *v;
    }
    out = tally{count, sum};
}

// One measured round over a channel of `capacity`. Returns M items/s.
weft::task<double> round_mitems(std::size_t capacity) {
    auto ch = weft::make_chan<long>(capacity);
    std::array<tally, consumers> tallies{};
    weft::wait_group sent;
    weft::wait_group received;
    const auto start = bench::now_ns();
    for (int c = 0; c < consumers; ++c)
        received.go(consume, ch, std::ref(tallies[static_cast<std::size_t>(c)]));
    for (int p = 0; p < producers; ++p)
        sent.go(produce, ch, p * per_producer);
    co_await sent.wait();
    ch.close();
    co_await received.wait();
    const auto elapsed = bench::now_ns() - start;
    tally total;
    for (const auto& t : tallies) {
        total.count += t.count;
        total.sum += t.sum;
    }
    if (total.count != items || total.sum != expected_sum)
        bench::fail("chan_mpmc: capacity " + std::to_string(capacity) + ": received " + std::to_string(total.count) +
                    " items summing to " + std::to_string(total.sum) + ", want " + std::to_string(items) +
                    " summing to " + std::to_string(expected_sum));
    co_return static_cast<double>(items) / (static_cast<double>(elapsed) / 1e9) / 1e6;
}

weft::task<double> series(std::size_t capacity, int reps) {
    co_await round_mitems(capacity);  // warm-up
    std::vector<double> samples;
    for (int r = 0; r < reps; ++r)
        samples.push_back(co_await round_mitems(capacity));
    co_return bench::median(samples);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 3, 1);  // a Go unbuffered round takes 1.4 s idle
    const weft::options two{.workers = 2};
    bench::report("chan_mpmc_buffered", "weft", weft::run(two, series, std::size_t{1024}, cfg.reps), "Mitems/s");
    bench::report("chan_mpmc_unbuffered", "weft", weft::run(two, series, std::size_t{0}, cfg.reps), "Mitems/s");
}
