// Provides the idle_memory benchmark: 1,000,000 tasks parked in wait_group::wait — RSS and address-space growth per
// task, OS threads used, the frame sizes of a minimal and a parked task, and the RSS still held per task once they
// have all ended and weft::free_os_memory() has run.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

// The frame pool's report of the size its last allocation on this thread asked for (a private
// hook of lib/mem/frame_pool). Declared weak so the benchmark still links if it goes away.
namespace weft::detail {
[[gnu::weak]] std::size_t frame_last_request() noexcept;
}

namespace {

constexpr long task_count = 1'000'000;
constexpr std::int64_t park_timeout_ns = 60'000'000'000;

// Counters outside the frames, so they do not change what a parked task costs.
std::atomic<long> parked_count{0};
std::atomic<long> finished_count{0};

weft::task<> parked(weft::wait_group& release, weft::wait_group& done) {
    parked_count.fetch_add(1, std::memory_order_relaxed);
    co_await release.wait();
    finished_count.fetch_add(1, std::memory_order_relaxed);
    done.done();
}

weft::task<> minimal() {
    co_return;
}

std::size_t last_frame_size() {
    const auto hook = &weft::detail::frame_last_request;
    return hook != nullptr ? hook() : 0;
}

weft::task<int> measure() {
    weft::go(minimal);
    const std::size_t minimal_frame = last_frame_size();

    weft::wait_group release;
    weft::wait_group done;
    release.add(1);
    done.add(task_count);
    std::size_t parked_frame = 0;

    const auto before = bench::memory_now();
    const auto start = bench::now_ns();
    for (long i = 0; i < task_count; ++i) {
        weft::go(parked, std::ref(release), std::ref(done));
        if (i == 0) parked_frame = last_frame_size();
    }
    // Let every task run up to its wait before measuring.
    while (parked_count.load(std::memory_order_relaxed) < task_count) {
        if (bench::now_ns() - start > park_timeout_ns)
            bench::fail("idle_memory: only " + std::to_string(parked_count.load()) + " tasks parked after 60 s");
        co_await weft::yield();
    }
    for (int i = 0; i < 100; ++i)
        co_await weft::yield();
    const auto after = bench::memory_now();
    const long threads = bench::thread_count();
    const std::size_t live = weft::num_tasks();

    release.done();
    co_await done.wait();
    if (finished_count.load() != task_count)
        bench::fail("idle_memory: " + std::to_string(finished_count.load()) + " tasks finished, want 1000000");
    if (live < static_cast<std::size_t>(task_count))
        bench::fail("idle_memory: num_tasks() was " + std::to_string(live) + " with 1000000 tasks parked");
    while (weft::num_tasks() > 1)  // the last frames are freed just after their tasks count as ended
        co_await weft::yield();
    weft::free_os_memory();
    const auto ended = bench::memory_now();
    const auto kept = ended.rss_bytes > before.rss_bytes ? ended.rss_bytes - before.rss_bytes : 0;

    bench::report("idle_memory", "weft", static_cast<double>(after.rss_bytes - before.rss_bytes) / task_count,
                  "bytes/unit");
    bench::report("idle_vmsize", "weft", static_cast<double>(after.vm_bytes - before.vm_bytes) / task_count,
                  "bytes/unit");
    bench::report("idle_kept", "weft", static_cast<double>(kept) / task_count, "bytes/unit");
    bench::report("max_units", "weft", static_cast<double>(task_count), "units");
    bench::report("idle_threads", "weft", static_cast<double>(threads), "threads");
    if (minimal_frame != 0) bench::report("frame_minimal", "weft", static_cast<double>(minimal_frame), "bytes");
    if (parked_frame != 0) bench::report("frame_parked", "weft", static_cast<double>(parked_frame), "bytes");
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    bench::parse_args(argc, argv, 1, 1);  // measured once: a second round would reuse the pooled frames
    return weft::run(weft::options{.workers = 2}, measure);
}
