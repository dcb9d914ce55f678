// Provides the ping_pong benchmark: two tasks passing an int back and forth over two unbuffered channels, 1,000,000
// round trips — ns per round trip.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <string>
#include <vector>

namespace {

constexpr long round_trips = 1'000'000;

// Answers every value received on `ping` with that value plus one on `pong`, until `ping` closes.
weft::task<> ponger(weft::chan<long> ping, weft::chan<long> pong) {
    while (auto v = co_await ping.recv())
        co_await pong.send(*v + 1);
}

// One measured round: round_trips exchanges. Returns ns per round trip.
weft::task<double> round_ns() {
    auto ping = weft::make_chan<long>();
    auto pong = weft::make_chan<long>();
    weft::wait_group wg;
    wg.go(ponger, ping, pong);
    long v = 0;
    const auto start = bench::now_ns();
    for (long i = 0; i < round_trips; ++i) {
        co_await ping.send(v);
        auto back = co_await pong.recv();
        if (!back) bench::fail("ping_pong: pong channel closed early");
        v = *back;
    }
    const auto elapsed = bench::now_ns() - start;
    ping.close();
    co_await wg.wait();
    if (v != round_trips)
        bench::fail("ping_pong: final value " + std::to_string(v) + ", want " + std::to_string(round_trips));
    co_return static_cast<double>(elapsed) / round_trips;
}

weft::task<double> series(int reps) {
    co_await round_ns();  // warm-up
    std::vector<double> samples;
    for (int r = 0; r < reps; ++r)
        samples.push_back(co_await round_ns());
    co_return bench::median(samples);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 7, 3);
    bench::report("ping_pong", "weft", weft::run(weft::options{.workers = 2}, series, cfg.reps), "ns");
}
