// Provides the default worker count (Go's GOMAXPROCS with automaxprocs built in).
#include "sched/maxprocs.hpp"

#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace weft::detail {
namespace {

unsigned ceil_ratio(long long quota, long long period) {
    if (quota <= 0 || period <= 0) return 0;
    return static_cast<unsigned>((quota + period - 1) / period);
}

// cgroup v2: the smallest cpu.max quota from this process's cgroup up to the root.
unsigned cgroup_v2_limit() {
    std::ifstream self("/proc/self/cgroup");
    std::string line, path;
    while (std::getline(self, line)) {
        if (line.rfind("0::", 0) == 0) path = line.substr(3);
    }
    if (path.empty()) return 0;
    unsigned best = 0;
    for (;;) {
        std::ifstream max("/sys/fs/cgroup" + (path == "/" ? std::string() : path) + "/cpu.max");
        std::string quota;
        long long period = 0;
        if (max >> quota >> period && quota != "max") {
            const unsigned cpus = ceil_ratio(std::atoll(quota.c_str()), period);
            if (cpus && (!best || cpus < best)) best = cpus;
        }
        if (path == "/" || path.empty()) break;
        const auto slash = path.rfind('/');
        path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
    return best;
}

// cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us of the cpu controller's mount.
unsigned cgroup_v1_limit() {
    std::ifstream quota_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
    std::ifstream period_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    long long quota = 0, period = 0;
    if (!(quota_file >> quota) || !(period_file >> period)) return 0;
    return ceil_ratio(quota, period);
}

unsigned affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
    return 1;
}

}  // namespace

unsigned cgroup_cpu_limit() noexcept {
    try {
        const unsigned v2 = cgroup_v2_limit();
        return v2 ? v2 : cgroup_v1_limit();
    } catch (...) {
        return 0;
    }
}

unsigned default_maxprocs() noexcept {
    if (const char* env = std::getenv("WEFT_MAXPROCS")) {
        char* end = nullptr;
        errno = 0;
        const long v = std::strtol(env, &end, 10);
        if (errno == 0 && end != env && *end == '\0' && v > 0 && v <= 4096) return static_cast<unsigned>(v);
    }
    unsigned cpus = affinity_cpus();
    const unsigned quota = cgroup_cpu_limit();
    if (quota && quota < cpus) cpus = quota;
    return cpus ? cpus : 1;
}

}  // namespace weft::detail
