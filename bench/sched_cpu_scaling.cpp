// Provides the cpu_scaling benchmark: 4 CPU-bound tasks (~0.25 s of integer work each) on 1 worker and on 2 — wall ms
// for each and the speedup.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr int jobs = 4;
constexpr long iterations = 128'000'000;
// The sum of the 4 results; bench/go/cpu_scaling and bench/threads/cpu_scaling check the same value.
constexpr std::uint64_t expected_sum = 3'039'457'576'464'213'688ULL;

// xorshift64* run for n steps: serial integer work the compiler cannot shortcut.
std::uint64_t crunch(std::uint64_t x, long n) {
    std::uint64_t acc = 0;
    for (long i = 0; i < n; ++i) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        acc += x * 0x2545F4914F6CDD1DULL;
    }
    return acc;
}

weft::task<std::uint64_t> job(std::uint64_t seed) {
    co_return crunch(seed, iterations);
}

weft::task<double> round_ms() {
    const auto start = bench::now_ns();
    std::array<weft::join_handle<std::uint64_t>, jobs> handles;
    for (std::uint64_t j = 0; j < jobs; ++j)
        handles[j] = weft::spawn(job, 0x9E3779B97F4A7C15ULL * (j + 1));
    std::uint64_t sum = 0;
    for (auto& h : handles)
        sum += co_await h;
    const auto elapsed = bench::now_ns() - start;
    if (sum != expected_sum)
        bench::fail("cpu_scaling: checksum " + std::to_string(sum) + ", want " + std::to_string(expected_sum));
    co_return static_cast<double>(elapsed) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 5, 3);
    std::vector<double> one;
    std::vector<double> two;
    for (int r = 0; r < cfg.reps; ++r) {  // alternate so drift in machine load hits both alike
        one.push_back(weft::run(weft::options{.workers = 1}, round_ms));
        two.push_back(weft::run(weft::options{.workers = 2}, round_ms));
    }
    const double m1 = bench::median(one);
    const double m2 = bench::median(two);
    bench::report("cpu_scaling_1w", "weft", m1, "ms");
    bench::report("cpu_scaling_2w", "weft", m2, "ms");
    bench::report("cpu_speedup", "weft", m1 / m2, "x");
}
