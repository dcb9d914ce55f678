// Provides the ctx_cancel benchmark: cancelling a context with 100,000 waiting tasks (parked in co_await ctx.wait(), or
// in a select on ctx.done() and a channel) until all have exited — ms from cancel() to the last waiter done.
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr long waiters = 100'000;
constexpr std::int64_t park_timeout_ns = 60'000'000'000;

std::atomic<long> parked_count{0};
std::atomic<long> wrong_count{0};

weft::task<> wait_waiter(weft::context ctx, weft::wait_group& wg) {
    parked_count.fetch_add(1, std::memory_order_relaxed);
    const std::error_code err = co_await ctx.wait();
    if (err != weft::errc::canceled) wrong_count.fetch_add(1, std::memory_order_relaxed);
    wg.done();
}

// Go's `select { case <-ctx.Done(): case <-work: }`; nothing is ever sent on `work`.
weft::task<> select_waiter(weft::context ctx, weft::chan<int> work, weft::wait_group& wg) {
    parked_count.fetch_add(1, std::memory_order_relaxed);
    auto r = co_await weft::select(weft::recv(ctx.done()), weft::recv(work));
    if (r.index() != 0 || ctx.err() != weft::errc::canceled) wrong_count.fetch_add(1, std::memory_order_relaxed);
    wg.done();
}

struct round_result {
    double total_ms = 0;   // cancel() to the last waiter done
    double cancel_ms = 0;  // inside cancel() on the calling task
};

weft::task<round_result> round(bool in_select) {
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    auto work = weft::make_chan<int>();
    weft::wait_group wg;
    wg.add(waiters);
    parked_count.store(0);
    wrong_count.store(0);
    const auto spawned = bench::now_ns();
    for (long i = 0; i < waiters; ++i) {
        if (in_select) {
            weft::go(select_waiter, ctx, work, std::ref(wg));
        } else {
            weft::go(wait_waiter, ctx, std::ref(wg));
        }
    }
    while (parked_count.load(std::memory_order_relaxed) < waiters) {
        if (bench::now_ns() - spawned > park_timeout_ns)
            bench::fail("ctx_cancel: only " + std::to_string(parked_count.load()) + " waiters parked after 60 s");
        co_await weft::yield();
    }
    co_await weft::sleep_for(5ms);  // let the last ones get from the counter to their wait
    if (wg.count() != waiters) bench::fail("ctx_cancel: a waiter finished before cancel()");

    const auto start = bench::now_ns();
    cancel();
    const auto returned = bench::now_ns();
    co_await wg.wait();
    const auto finished = bench::now_ns();
    if (wrong_count.load() != 0)
        bench::fail("ctx_cancel: " + std::to_string(wrong_count.load()) + " waiters woke without errc::canceled");
    co_return round_result{static_cast<double>(finished - start) / 1e6, static_cast<double>(returned - start) / 1e6};
}

weft::task<int> series(int reps) {
    for (const bool in_select : {false, true}) {
        co_await round(in_select);  // warm-up
        std::vector<double> total;
        std::vector<double> call;
        for (int r = 0; r < reps; ++r) {
            const auto res = co_await round(in_select);
            total.push_back(res.total_ms);
            call.push_back(res.cancel_ms);
        }
        const char* suffix = in_select ? "_select" : "";
        bench::report((std::string("ctx_cancel") + suffix).c_str(), "weft", bench::median(total), "ms");
        bench::report((std::string("ctx_cancel_call") + suffix).c_str(), "weft", bench::median(call), "ms");
    }
    co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 5, 3);
    return weft::run(weft::options{.workers = 2}, series, cfg.reps);
}
