// Provides the skynet benchmark with join handles: a 1,000,000-leaf tree, 10 children per task, 6 levels, each parent
// awaiting its children's sums — ms.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace {

constexpr long leaves = 1'000'000;
constexpr long expected_sum = 499'999'500'000;

weft::task<long> skynet(long num, long size) {
    if (size == 1) co_return num;
    const long sub = size / 10;
    std::array<weft::join_handle<long>, 10> children;
    for (std::size_t i = 0; i < children.size(); ++i)
        children[i] = weft::spawn(skynet, num + static_cast<long>(i) * sub, sub);
    long sum = 0;
    for (auto& child : children)
        sum += co_await child;
    co_return sum;
}

weft::task<double> round_ms() {
    const auto start = bench::now_ns();
    auto root = weft::spawn(skynet, 0L, leaves);
    const long sum = co_await root;
    const auto elapsed = bench::now_ns() - start;
    if (sum != expected_sum)
        bench::fail("skynet: sum " + std::to_string(sum) + ", want " + std::to_string(expected_sum));
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
    bench::report("skynet", "weft", weft::run(weft::options{.workers = 2}, series, cfg.reps), "ms");
}
