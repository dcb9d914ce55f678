// Provides the sleepers benchmark: 100,000 tasks each sleeping 100 ms — wall ms until all are done, wake-up lateness
// p50 and p99, OS threads used — and the RSS growth per sleeper with 1,000,000 asleep (250,000 with --quick).
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr long sleepers = 100'000;
constexpr auto nap = 100ms;
constexpr std::int64_t park_timeout_ns = 60'000'000'000;

// Outside the frames, so they do not change what a sleeper costs.
std::atomic<long> started_count{0};
std::atomic<long> finished_count{0};
std::vector<std::int64_t> lateness_ns(sleepers);  // one slot per sleeper

// Sleeps `nap` and records how late it woke.
weft::task<> sleeper(long index, weft::wait_group& wg) {
    started_count.fetch_add(1, std::memory_order_relaxed);
    const auto t0 = bench::now_ns();
    co_await weft::sleep_for(nap);
    lateness_ns[static_cast<std::size_t>(index)] =
        bench::now_ns() - t0 - std::chrono::duration_cast<std::chrono::nanoseconds>(nap).count();
    wg.done();
}

struct round_result {
    double wall_ms = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    long threads = 0;
};

double percentile_ms(const std::vector<std::int64_t>& sorted, double p) {
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
    return static_cast<double>(sorted[std::max<std::size_t>(rank, 1) - 1]) / 1e6;
}

// One measured round: sleepers tasks started one by one, then wait for all of them.
weft::task<round_result> round() {
    started_count.store(0);
    std::fill(lateness_ns.begin(), lateness_ns.end(), -1);
    weft::wait_group wg;
    wg.add(sleepers);
    const auto start = bench::now_ns();
    for (long i = 0; i < sleepers; ++i)
        weft::go(sleeper, i, std::ref(wg));
    while (started_count.load(std::memory_order_relaxed) < sleepers && bench::now_ns() - start < park_timeout_ns)
        co_await weft::yield();
    const long threads_parked = bench::thread_count();
    co_await wg.wait();
    const auto elapsed = bench::now_ns() - start;
    const long threads_after = bench::thread_count();

    std::vector<std::int64_t> sorted = lateness_ns;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.front() < 0)
        bench::fail("sleepers: a sleeper woke " + std::to_string(-sorted.front()) + " ns early (or never recorded)");
    co_return round_result{static_cast<double>(elapsed) / 1e6, percentile_ms(sorted, 0.50), percentile_ms(sorted, 0.99),
                           std::max(threads_parked, threads_after)};
}

weft::task<int> lateness_series(int reps) {
    co_await round();  // warm-up
    std::vector<double> wall;
    std::vector<double> p50;
    std::vector<double> p99;
    long threads = 0;
    for (int r = 0; r < reps; ++r) {
        const auto res = co_await round();
        wall.push_back(res.wall_ms);
        p50.push_back(res.p50_ms);
        p99.push_back(res.p99_ms);
        threads = std::max(threads, res.threads);
    }
    bench::report("sleepers_wall", "weft", bench::median(wall), "ms");
    bench::report("sleepers_lateness_p50", "weft", bench::median(p50), "ms");
    bench::report("sleep_lateness_p99", "weft", bench::median(p99), "ms");
    bench::report("sleepers_threads", "weft", static_cast<double>(threads), "threads");
    co_return 0;
}

// Sleeps for an hour: it is still asleep when the memory is measured, and run()'s shutdown
// destroys it (cancelling its timer) when the measuring task returns.
weft::task<> long_sleeper() {
    started_count.fetch_add(1, std::memory_order_relaxed);
    co_await weft::sleep_for(1h);
    finished_count.fetch_add(1, std::memory_order_relaxed);
}

weft::task<int> memory_round(long memory_sleepers) {
    started_count.store(0);
    const auto before = bench::memory_now();
    const auto start = bench::now_ns();
    for (long i = 0; i < memory_sleepers; ++i)
        weft::go(long_sleeper);
    while (started_count.load(std::memory_order_relaxed) < memory_sleepers) {
        if (bench::now_ns() - start > park_timeout_ns)
            bench::fail("sleepers: only " + std::to_string(started_count.load()) + " of " +
                        std::to_string(memory_sleepers) + " sleepers parked after 60 s");
        co_await weft::yield();
    }
    for (int i = 0; i < 100; ++i)
        co_await weft::yield();
    const auto after = bench::memory_now();
    const std::size_t live = weft::num_tasks();
    if (finished_count.load() != 0) bench::fail("sleepers: a one-hour sleeper woke");
    if (live < static_cast<std::size_t>(memory_sleepers))
        bench::fail("sleepers: num_tasks() was " + std::to_string(live) + " with " + std::to_string(memory_sleepers) +
                    " sleepers");
    bench::report("sleepers_memory", "weft", static_cast<double>(after.rss_bytes - before.rss_bytes) / memory_sleepers,
                  "bytes/unit");
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 5, 3);
    const weft::options two{.workers = 2};
    // Memory first, in a fresh process: the later rounds reuse its pooled frames, not the reverse.
    if (weft::run(two, memory_round, cfg.quick ? 250'000L : 1'000'000L) != 0) return 1;
    return weft::run(two, lateness_series, cfg.reps);
}
