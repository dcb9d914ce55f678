// Provides the std::thread twin of cpu_scaling: 4 threads doing the same integer work, pinned to 1 CPU and then free on
// 2 — wall ms for each and the speedup.
#include "../bench_util.hpp"

#include <sched.h>

#include <array>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int jobs = 4;
constexpr long iterations = 128'000'000;
constexpr std::uint64_t expected_sum = 3'039'457'576'464'213'688ULL;  // as in sched_cpu_scaling.cpp

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

// Threads inherit the creating thread's affinity mask: pinning this thread to `cpus` CPUs
// before starting the workers is the thread version of GOMAXPROCS.
double round_ms(const cpu_set_t& mask) {
    if (sched_setaffinity(0, sizeof mask, &mask) != 0) bench::fail("cpu_scaling: sched_setaffinity failed");
    std::array<std::uint64_t, jobs> results{};
    const auto start = bench::now_ns();
    {
        std::vector<std::thread> threads;
        for (std::size_t j = 0; j < jobs; ++j)
            threads.emplace_back([&results, j] { results[j] = crunch(0x9E3779B97F4A7C15ULL * (j + 1), iterations); });
        for (auto& t : threads)
            t.join();
    }
    const auto elapsed = bench::now_ns() - start;
    std::uint64_t sum = 0;
    for (auto r : results)
        sum += r;
    if (sum != expected_sum)
        bench::fail("cpu_scaling: checksum " + std::to_string(sum) + ", want " + std::to_string(expected_sum));
    return static_cast<double>(elapsed) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 5, 3);
    cpu_set_t all;
    CPU_ZERO(&all);
    if (sched_getaffinity(0, sizeof all, &all) != 0) bench::fail("cpu_scaling: sched_getaffinity failed");
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &all)) {
            CPU_SET(cpu, &one);
            break;
        }
    }
    std::vector<double> ones;
    std::vector<double> twos;
    for (int r = 0; r < cfg.reps; ++r) {  // alternate so drift in machine load hits both alike
        ones.push_back(round_ms(one));
        twos.push_back(round_ms(all));
    }
    const double m1 = bench::median(ones);
    const double m2 = bench::median(twos);
    bench::report("cpu_scaling_1w", "threads", m1, "ms");
    bench::report("cpu_scaling_2w", "threads", m2, "ms");
    bench::report("cpu_speedup", "threads", m1 / m2, "x");
}
