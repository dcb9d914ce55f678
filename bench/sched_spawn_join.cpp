// Provides the spawn_join benchmark: 1,000,000 tasks started one by one with weft::go, each calling wg.done(), then
// co_await wg.wait() — ns per task with 2 workers and with 1.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <functional>
#include <string>
#include <vector>

namespace {

constexpr long task_count = 1'000'000;

weft::task<> unit(weft::wait_group& wg) {
    wg.done();
    co_return;
}

// One measured round: spawn task_count tasks, wait for all of them. Returns ns per task.
weft::task<double> round_ns() {
    weft::wait_group wg;
    wg.add(task_count);
    const auto start = bench::now_ns();
    for (long i = 0; i < task_count; ++i)
        weft::go(unit, std::ref(wg));
    co_await wg.wait();
    const auto elapsed = bench::now_ns() - start;
    // Every task's done() brought the counter down by one; zero means all of them ran
    // (one more would have thrown on a negative counter).
    if (wg.count() != 0) bench::fail("spawn_join: wait_group counter " + std::to_string(wg.count()) + " after wait");
    co_return static_cast<double>(elapsed) / task_count;
}

weft::task<double> series(int reps) {
    co_await round_ns();  // warm-up: fills the frame pool, as in steady state
    std::vector<double> samples;
    for (int r = 0; r < reps; ++r)
        samples.push_back(co_await round_ns());
    co_return bench::median(samples);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 7, 3);
    bench::report("spawn_join", "weft", weft::run(weft::options{.workers = 2}, series, cfg.reps), "ns/task");
    bench::report("spawn_join_1w", "weft", weft::run(weft::options{.workers = 1}, series, cfg.reps), "ns/task");
}
