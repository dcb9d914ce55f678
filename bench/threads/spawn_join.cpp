// Provides the std::thread twin of spawn_join: create and join one std::thread per unit of work — ns per thread.
#include "../bench_util.hpp"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<long> ran{0};

double round_ns(long units) {
    const auto start = bench::now_ns();
    for (long i = 0; i < units; ++i) {
        std::thread t([] { ran.fetch_add(1, std::memory_order_relaxed); });
        t.join();
    }
    return static_cast<double>(bench::now_ns() - start) / static_cast<double>(units);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 5, 3);
    const long units = cfg.quick ? 5'000 : 20'000;  // threads are slow: fewer units, scaled to ns per unit
    round_ns(units / 10);                           // warm-up
    std::vector<double> samples;
    for (int r = 0; r < cfg.reps; ++r)
        samples.push_back(round_ns(units));
    const long want = units / 10 + units * cfg.reps;
    if (ran.load() != want)
        bench::fail("spawn_join: " + std::to_string(ran.load()) + " threads ran, want " + std::to_string(want));
    bench::report("spawn_join", "threads", bench::median(samples), "ns/task");
}
