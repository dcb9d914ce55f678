// Provides the std::thread twin of idle_memory: as many default-stack threads blocked on one std::latch as the OS
// allows, up to 100,000 (10,000 with --quick) — how many, RSS and address space per thread, and the RSS still held
// per thread once all are joined.
//
// Creation stops at the first of:
//   1. std::thread throwing std::system_error (EAGAIN: a per-process or per-user limit, the
//      map count, memory): what this process was allowed. Reported in "units".
//   2. the machine-wide limit on threads (kernel.pid_max / kernel.threads-max) coming within
//      `system_reserve` of the threads alive on the whole machine: that limit is shared with
//      every other process, and exhausting it, even for a second, makes their fork() and
//      pthread_create() fail. We stop just short of it and say so ("units_syslimit").
//   3. the cap or the time budget ("units_capped": the OS would have allowed more).
// The threads are then released and joined at once.
#include "../bench_util.hpp"

#include <atomic>
#include <cstdio>
#include <latch>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <sys/resource.h>

namespace {

constexpr long long system_reserve = 512;  // pids left free for the machine's other processes

// The first number in a /proc/sys file, or -1.
long long proc_sys(const char* path) {
    long long value = -1;
    if (std::FILE* f = std::fopen(path, "r")) {
        if (std::fscanf(f, "%lld", &value) != 1) value = -1;
        std::fclose(f);
    }
    return value;
}

// Threads alive on the whole machine: the "running/total" field of /proc/loadavg.
long long system_threads() {
    double load[3];
    long long running = 0;
    long long total = -1;
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf %lf %lf %lld/%lld", &load[0], &load[1], &load[2], &running, &total) != 5) total = -1;
        std::fclose(f);
    }
    return total;
}

std::atomic<long> parked_count{0};
std::atomic<long> finished_count{0};

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 1, 1);
    const long cap = cfg.quick ? 10'000 : 100'000;
    const std::int64_t budget_ns = cfg.quick ? 20'000'000'000 : 60'000'000'000;
    const long long pid_max = proc_sys("/proc/sys/kernel/pid_max");
    const long long threads_max = proc_sys("/proc/sys/kernel/threads-max");
    long long system_limit = pid_max;
    if (system_limit < 0 || (threads_max > 0 && threads_max < system_limit)) system_limit = threads_max;

    std::latch release{1};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(cap));
    std::string stopped_by = "the cap of " + std::to_string(cap);
    const char* unit = "units_capped";

    const auto before = bench::memory_now();
    const auto start = bench::now_ns();
    for (long i = 0; i < cap; ++i) {
        if (i % 16 == 0 && system_limit > 0) {
            const long long alive = system_threads();
            if (alive > 0 && alive + 16 + system_reserve >= system_limit) {
                stopped_by = "the machine-wide thread limit (" + std::to_string(alive) + " threads alive of " +
                             std::to_string(system_limit) + "; " + std::to_string(system_reserve) +
                             " left for other processes)";
                unit = "units_syslimit";
                break;
            }
        }
        try {
            threads.emplace_back([&release] {
                parked_count.fetch_add(1, std::memory_order_relaxed);
                release.wait();
                finished_count.fetch_add(1, std::memory_order_relaxed);
            });
        } catch (const std::system_error& e) {
            stopped_by = std::string("the OS refusing the next one: ") + e.what();
            unit = "units";
            break;
        }
        if (bench::now_ns() - start > budget_ns) {
            stopped_by = "the time budget";
            break;
        }
    }
    const long created = static_cast<long>(threads.size());
    while (parked_count.load(std::memory_order_relaxed) < created && bench::now_ns() - start < 2 * budget_ns)
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto after = bench::memory_now();
    const long os_threads = bench::thread_count();

    release.count_down();
    for (auto& t : threads)
        t.join();
    const auto ended = bench::memory_now();
    const auto kept = ended.rss_bytes > before.rss_bytes ? ended.rss_bytes - before.rss_bytes : 0;
    const auto elapsed_ms = static_cast<double>(bench::now_ns() - start) / 1e6;

    rlimit stack{};
    rlimit nproc{};
    getrlimit(RLIMIT_STACK, &stack);
    getrlimit(RLIMIT_NPROC, &nproc);
    const auto limit = [](rlim_t v) { return v == RLIM_INFINITY ? -1LL : static_cast<long long>(v); };
    std::fprintf(stderr,
                 "note: std::thread idle_memory: %ld threads created in %.0f ms, stopped by %s. Limits: stack "
                 "%lld KiB, RLIMIT_NPROC %lld, kernel.pid_max %lld, kernel.threads-max %lld, vm.max_map_count "
                 "%lld (-1: unlimited)\n",
                 created, elapsed_ms, stopped_by.c_str(),
                 stack.rlim_cur == RLIM_INFINITY ? -1LL : limit(stack.rlim_cur) / 1024, limit(nproc.rlim_cur), pid_max,
                 threads_max, proc_sys("/proc/sys/vm/max_map_count"));
    if (created == 0) bench::fail("idle_memory: could not create a single thread");
    if (finished_count.load() != created)
        bench::fail("idle_memory: " + std::to_string(finished_count.load()) + " threads finished, want " +
                    std::to_string(created));

    bench::report("idle_memory", "threads", static_cast<double>(after.rss_bytes - before.rss_bytes) / created,
                  "bytes/unit");
    bench::report("idle_vmsize", "threads", static_cast<double>(after.vm_bytes - before.vm_bytes) / created,
                  "bytes/unit");
    bench::report("idle_kept", "threads", static_cast<double>(kept) / created, "bytes/unit");
    bench::report("max_units", "threads", static_cast<double>(created), unit);
    bench::report("idle_threads", "threads", static_cast<double>(os_threads), "threads");
}
