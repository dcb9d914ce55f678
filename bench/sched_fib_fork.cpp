// Provides the fib_fork benchmark: fib(30) where every call with n >= 2 spawns both children with weft::spawn and
// awaits them — ms.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <string>
#include <vector>

namespace {

constexpr int n = 30;
constexpr long expected = 832'040;

weft::task<long> fib(int k) {
    if (k < 2) co_return k;
    auto left = weft::spawn(fib, k - 1);
    auto right = weft::spawn(fib, k - 2);
    const long a = co_await left;
    const long b = co_await right;
    co_return a + b;
}

weft::task<double> round_ms() {
    const auto start = bench::now_ns();
    auto root = weft::spawn(fib, n);
    const long value = co_await root;
    const auto elapsed = bench::now_ns() - start;
    if (value != expected) bench::fail("fib_fork: fib(30) = " + std::to_string(value) + ", want 832040");
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
    bench::report("fib_fork", "weft", weft::run(weft::options{.workers = 2}, series, cfg.reps), "ms");
}
