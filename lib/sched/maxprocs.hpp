// Provides default_maxprocs: how many workers run() starts when options.workers is 0.
#pragma once

namespace weft::detail {

// WEFT_MAXPROCS if it holds a positive integer; otherwise the CPUs this process may use:
// the affinity mask, capped by the cgroup (v2 or v1) CPU quota rounded up; at least 1.
unsigned default_maxprocs() noexcept;

// The parts, exposed for tests: the cgroup quota in CPUs (0 when unlimited or unknown).
unsigned cgroup_cpu_limit() noexcept;

}  // namespace weft::detail
