// Provides the timer_pair benchmark: arming and cancelling one timer (t.reset(1h); t.stop();) 2,000,000 times per round
// — ns per pair — and the lateness p99 of 200 single 1 ms sleeps on an otherwise idle runtime.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr long pairs = 2'000'000;
constexpr int short_sleeps = 200;
constexpr auto short_nap = 1ms;

// One measured round. Returns ns per reset+stop pair.
weft::task<double> pair_round_ns() {
    weft::timer t(1h);
    if (!t.stop()) bench::fail("timer_pair: stop() of a freshly armed timer returned false");
    long misses = 0;
    const auto start = bench::now_ns();
    for (long i = 0; i < pairs; ++i) {
        misses += t.reset(1h) ? 1 : 0;  // stopped before: false
        misses += t.stop() ? 0 : 1;     // armed by the reset: true
    }
    const auto elapsed = bench::now_ns() - start;
    if (misses != 0)
        bench::fail("timer_pair: " + std::to_string(misses) + " reset/stop calls returned the wrong value");
    if (t.c().try_recv()) bench::fail("timer_pair: a stopped timer delivered a value");
    co_return static_cast<double>(elapsed) / pairs;
}

// Sleeps 1 ms short_sleeps times in a row; returns the p99 and p50 lateness in ms.
weft::task<std::pair<double, double>> lateness_ms() {
    std::vector<std::int64_t> late;
    late.reserve(short_sleeps);
    for (int i = 0; i < short_sleeps; ++i) {
        const auto t0 = bench::now_ns();
        co_await weft::sleep_for(short_nap);
        late.push_back(bench::now_ns() - t0 - std::chrono::duration_cast<std::chrono::nanoseconds>(short_nap).count());
    }
    std::sort(late.begin(), late.end());
    if (late.front() < 0) bench::fail("timer_pair: a 1 ms sleep woke " + std::to_string(-late.front()) + " ns early");
    const auto p99 = late[static_cast<std::size_t>(short_sleeps * 99 / 100) - 1];
    const auto p50 = late[static_cast<std::size_t>(short_sleeps / 2) - 1];
    co_return std::pair{static_cast<double>(p99) / 1e6, static_cast<double>(p50) / 1e6};
}

weft::task<int> measure(int reps) {
    co_await pair_round_ns();  // warm-up
    std::vector<double> samples;
    for (int r = 0; r < reps; ++r)
        samples.push_back(co_await pair_round_ns());
    bench::report("timer_pair", "weft", bench::median(samples), "ns");

    const auto [p99, p50] = co_await lateness_ms();
    bench::report("short_sleep_lateness_p50", "weft", p50, "ms");
    bench::report("short_sleep_lateness_p99", "weft", p99, "ms");
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 7, 3);
    return weft::run(weft::options{.workers = 2}, measure, cfg.reps);
}
