// Provides the chan_skynet benchmark, skynet written Go's way: 1,000,000 leaves, 10 children per task, 6 levels; each
// parent makes an unbuffered channel, its children send their sums up it — ms.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <string>
#include <vector>

namespace {

constexpr long leaves = 1'000'000;
constexpr long expected_sum = 499'999'500'000;

weft::task<> skynet(weft::send_chan<long> up, long num, long size) {
    if (size == 1) {
        co_await up.send(num);
        co_return;
    }
    auto children = weft::make_chan<long>();
    const long sub = size / 10;
    for (long i = 0; i < 10; ++i)
        weft::go(skynet, weft::send_chan<long>(children), num + i * sub, sub);
    long sum = 0;
    for (int i = 0; i < 10; ++i) {
        auto v = co_await children.recv();
        if (!v) bench::fail("chan_skynet: a child channel was closed");
        sum += *v;
    }
    co_await up.send(sum);
}

weft::task<double> round_ms() {
    auto result = weft::make_chan<long>();
    const auto start = bench::now_ns();
    weft::go(skynet, weft::send_chan<long>(result), 0L, leaves);
    const auto sum = co_await result.recv();
    const auto elapsed = bench::now_ns() - start;
    if (!sum || *sum != expected_sum)
        bench::fail("chan_skynet: sum " + (sum ? std::to_string(*sum) : std::string("none")) + ", want " +
                    std::to_string(expected_sum));
    co_return static_cast<double>(elapsed) / 1e6;
}

weft::task<double> series(int reps) {
    co_await round_ms();  // warm-up
    std::vector<double> samples;
    for (int r = 0; r < reps; ++r)
        samples.push_back(co_await round_ms());
    co_return bench::median(samples);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 9, 3);
    bench::report("chan_skynet", "weft", weft::run(weft::options{.workers = 2}, series, cfg.reps), "ms");
}
