// Provides the select benchmark: one task selecting over 2 unbuffered channels fed by 2 producer tasks, 1,000,000
// messages — ns per message.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <array>
#include <string>
#include <vector>

namespace {

constexpr long messages = 1'000'000;
constexpr long per_producer = messages / 2;
constexpr long expected_sum = per_producer * (per_producer + 1) / 2;  // each producer sends 1..per_producer

weft::task<> produce(weft::chan<long> ch) {
    for (long v = 1; v <= per_producer; ++v)
        co_await ch.send(v);
}

// One measured round. Returns ns per message received by the selecting task.
weft::task<double> round_ns() {
    auto a = weft::make_chan<long>();
    auto b = weft::make_chan<long>();
    std::array<long, 2> count{};
    std::array<long, 2> sum{};
    weft::wait_group producers;
    const auto start = bench::now_ns();
    producers.go(produce, a);
    producers.go(produce, b);
    for (long i = 0; i < messages; ++i) {
        auto r = co_await weft::select(weft::recv(a), weft::recv(b));
        const auto which = r.index();
        const std::optional<long> v = which == 0 ? std::get<0>(r) : std::get<1>(r);
        if (!v) bench::fail("select: a channel was closed");
        ++count[which];
        sum[which] += *v;
    }
    const auto elapsed = bench::now_ns() - start;
    co_await producers.wait();
    for (std::size_t c = 0; c < 2; ++c) {
        if (count[c] != per_producer || sum[c] != expected_sum)
            bench::fail("select: case " + std::to_string(c) + " received " + std::to_string(count[c]) +
                        " values summing to " + std::to_string(sum[c]) + ", want " + std::to_string(per_producer) +
                        " summing to " + std::to_string(expected_sum));
    }
    co_return static_cast<double>(elapsed) / messages;
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
    bench::report("select", "weft", weft::run(weft::options{.workers = 2}, series, cfg.reps), "ns/msg");
}
