// Provides what every benchmark program shares: --quick parsing, a clock, medians, /proc readings and the `bench` line.
//
// Output contract (read by bench/run.py): one line per figure,
//     bench <workload> <runtime> <figure> <unit>
// with runtime weft, go or threads. Anything else a program prints goes to stderr. A program
// that finds a wrong result prints why to stderr and exits non-zero: the runner then marks
// its rows FAILED.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace bench {

struct config {
    bool quick = false;  // --quick: fewer repetitions and smaller thread counts, same workloads
    int reps = 0;        // measured repetitions (after one warm-up)
};

// Reads --quick and --reps N from the command line.
inline config parse_args(int argc, char** argv, int full_reps, int quick_reps) {
    config cfg;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            cfg.quick = true;
        } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            cfg.reps = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: %s [--quick] [--reps N]\n", argv[0]);
            std::exit(2);
        }
    }
    if (cfg.reps <= 0) cfg.reps = cfg.quick ? quick_reps : full_reps;
    return cfg;
}

inline std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline double median(std::vector<double> samples) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    const auto mid = samples.size() / 2;
    return samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

struct memory_usage {
    std::int64_t vm_bytes = 0;   // address space (VmSize)
    std::int64_t rss_bytes = 0;  // resident set (VmRSS)
};

// /proc/self/statm: size and resident, in pages.
inline memory_usage memory_now() {
    memory_usage usage;
    long long size = 0;
    long long resident = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%lld %lld", &size, &resident) != 2) size = resident = 0;
        std::fclose(f);
    }
    const auto page = static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
    usage.vm_bytes = size * page;
    usage.rss_bytes = resident * page;
    return usage;
}

// The "Threads:" line of /proc/self/status: the OS threads this process has now.
inline long thread_count() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Threads:", 0) == 0) return std::atol(line.c_str() + 8);
    }
    return -1;
}

// Prints one figure for the runner, e.g. `bench skynet weft 12.3 ms`.
inline void report(const char* workload, const char* runtime, double figure, const char* unit) {
    const bool whole = figure >= 1000 || std::string(unit).find("bytes") != std::string::npos ||
                       std::string(unit) == "threads" || std::string(unit).rfind("units", 0) == 0;
    std::printf(whole ? "bench %s %s %.0f %s\n" : "bench %s %s %.2f %s\n", workload, runtime, figure, unit);
    std::fflush(stdout);
}

// Reports a wrong result and exits non-zero.
[[noreturn]] inline void fail(const std::string& why) {
    std::fprintf(stderr, "FAILED: %s\n", why.c_str());
    std::fflush(stderr);
    std::_Exit(1);
}

}  // namespace bench
