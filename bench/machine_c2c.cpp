// Provides the machine probe: one cache line bounced between two threads, 200,000 round trips — ns per round trip.
//
// Why it exists: on the 2-core VM the benchmarks run on, this figure is bimodal. It is about 60 ns in some periods
// and about 330 ns in others, switching every few seconds to minutes, as the hypervisor places the two vCPUs on near
// or on far cores of the host. Every benchmark that passes work between the two workers (select, ping-pong, fib_fork,
// skynet, chan_skynet) moves with it, so bench/run.py runs this probe right before each weft program and shows the
// figure beside that program's rows. It uses no weft: std::thread and one std::atomic, nothing pinned.
//
// A sample also ends after 80 ms (its figure is then over the round trips done so far), so that on a busy machine,
// where the two threads share one CPU and every round trip costs time slices, the probe still ends in about a second.
#include "bench_util.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr long round_trips = 200'000;
constexpr std::int64_t sample_limit_ns = 80'000'000;  // 200,000 round trips take 12-70 ms on an idle machine
constexpr long clock_every = 256;                     // round trips between two looks at the clock
constexpr std::uint64_t stop = ~std::uint64_t{0};     // odd, never reached by counting: tells the answerer to return
constexpr int spins_before_yield = 4096;  // ~100 us of pause; far more than a round trip takes on separate cores

// The bounced line, alone in its 64 bytes so that nothing else shares its trips between the cores.
struct alignas(64) line {
    // Written by the main thread (an odd value: the ping) and by the answerer (that value plus one: the answer); read
    // by both. It publishes nothing but its own value, so every access is relaxed: what is measured is the line's
    // trip between the cores, and no other memory has to be ordered by it.
    std::atomic<std::uint64_t> value{0};
};

line shared;

inline void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// Spins until done(the line's value) holds and returns that value. If the other thread seems not to be running (both
// threads on one CPU, the machine busy) it yields, so that the probe ends in about a second rather than trading time
// slices; its figure is then large, which is what the row should show.
template <class Done>
std::uint64_t wait_until(Done done) {
    for (int spins = 0;; ++spins) {
        const auto v = shared.value.load(std::memory_order_relaxed);
        if (done(v)) return v;
        if (spins >= spins_before_yield) {
            std::this_thread::yield();
            spins = 0;
        } else {
            cpu_pause();
        }
    }
}

// The other thread: answers every ping (an odd value) with the next value, until it reads `stop`.
void answer() {
    std::uint64_t last = 0;
    for (;;) {
        const auto v = wait_until([last](std::uint64_t v) { return v != last; });
        if (v == stop) return;
        if (v % 2 == 0) bench::fail("c2c: the answerer read " + std::to_string(v) + ", which it did not write");
        last = v + 1;
        shared.value.store(last, std::memory_order_relaxed);
    }
}

// One sample: `count` round trips (fewer if sample_limit_ns passes first), each the main thread's increment and the
// answerer's. Returns ns per round trip.
double round_ns(long count, std::uint64_t& next) {
    const auto start = bench::now_ns();
    auto now = start;
    long done = 0;
    while (done < count && now - start < sample_limit_ns) {
        for (long i = 0; i < clock_every && done < count; ++i, ++done) {
            const auto ping = next + 1;
            shared.value.store(ping, std::memory_order_relaxed);
            wait_until([ping](std::uint64_t v) { return v == ping + 1; });
            next = ping + 1;
        }
        now = bench::now_ns();
    }
    return static_cast<double>(now - start) / static_cast<double>(done);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 9, 3);
    std::thread answerer(answer);
    std::uint64_t next = 0;
    round_ns(round_trips / 10, next);  // warm-up: the answerer is running and the line is in both caches
    std::vector<double> samples;
    for (int r = 0; r < cfg.reps; ++r)
        samples.push_back(round_ns(round_trips, next));
    shared.value.store(stop, std::memory_order_relaxed);
    answerer.join();
    bench::report("c2c_round_trip", "machine", bench::median(samples), "ns");
}
