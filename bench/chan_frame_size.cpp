// Provides the chan_frame_size benchmark: 1,000,000 tasks parked in a channel recv, then 1,000,000 parked in a 3-case
// select (250,000 with --quick) — the frame bytes of each kind of task and the RSS growth per parked task.
//
// Each kind is measured in its own forked process, so the second one does not reuse frames
// the first one returned to the frame pool (forked before any runtime thread exists).
#include "bench_util.hpp"

#include <weft/weft.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr std::int64_t park_timeout_ns = 60'000'000'000;

// Counters outside the frames, so they do not change what a parked task costs.
std::atomic<long> parked_count{0};
std::atomic<long> finished_count{0};
std::atomic<long> wrong_count{0};

// Parks in a plain recv until `ch` is closed.
weft::task<> parked_recv(weft::chan<int> ch, weft::wait_group& done) {
    parked_count.fetch_add(1, std::memory_order_relaxed);
    auto v = co_await ch.recv();
    if (v) wrong_count.fetch_add(1, std::memory_order_relaxed);
    finished_count.fetch_add(1, std::memory_order_relaxed);
    done.done();
}

// Parks in a 3-case select until `a` is closed (b and c stay open and empty).
weft::task<> parked_select3(weft::chan<int> a, weft::chan<int> b, weft::chan<int> c, weft::wait_group& done) {
    parked_count.fetch_add(1, std::memory_order_relaxed);
    auto r = co_await weft::select(weft::recv(a), weft::recv(b), weft::recv(c));
    if (r.index() != 0 || std::get<0>(r)) wrong_count.fetch_add(1, std::memory_order_relaxed);
    finished_count.fetch_add(1, std::memory_order_relaxed);
    done.done();
}

// Parks task_count tasks (select3: in a 3-case select, else in recv), measures, releases them.
weft::task<int> measure(bool select3, long task_count) {
    const char* kind = select3 ? "select3" : "recv";
    auto a = weft::make_chan<int>();
    auto b = weft::make_chan<int>();
    auto c = weft::make_chan<int>();
    weft::wait_group done;
    done.add(task_count);
    std::size_t frame = 0;

    const auto before = bench::memory_now();
    const auto start = bench::now_ns();
    for (long i = 0; i < task_count; ++i) {
        if (select3) {
            weft::go(parked_select3, a, b, c, std::ref(done));
        } else {
            weft::go(parked_recv, a, std::ref(done));
        }
        if (i == 0) frame = weft::detail::frame_last_request();  // the size the frame pool was asked for
    }
    while (parked_count.load(std::memory_order_relaxed) < task_count) {
        if (bench::now_ns() - start > park_timeout_ns)
            bench::fail(std::string("chan_frame_size: only ") + std::to_string(parked_count.load()) + " " + kind +
                        " tasks parked after 60 s");
        co_await weft::yield();
    }
    for (int i = 0; i < 100; ++i)
        co_await weft::yield();
    const auto after = bench::memory_now();
    const std::size_t live = weft::num_tasks();

    a.close();
    co_await done.wait();
    if (finished_count.load() != task_count || wrong_count.load() != 0)
        bench::fail(std::string("chan_frame_size: ") + kind + ": " + std::to_string(finished_count.load()) +
                    " tasks finished (want " + std::to_string(task_count) + "), " + std::to_string(wrong_count.load()) +
                    " woke with a value or the wrong case");
    if (live < static_cast<std::size_t>(task_count))
        bench::fail(std::string("chan_frame_size: ") + kind + ": num_tasks() was " + std::to_string(live) + " with " +
                    std::to_string(task_count) + " tasks parked");

    const std::string name = std::string("parked_") + kind;
    bench::report((name + "_memory").c_str(), "weft",
                  static_cast<double>(after.rss_bytes - before.rss_bytes) / task_count, "bytes/unit");
    if (frame == 0) bench::fail(std::string("chan_frame_size: ") + kind + ": the frame pool reported no request");
    bench::report((std::string("frame_") + kind).c_str(), "weft", static_cast<double>(frame), "bytes");
    co_return 0;
}

// Runs measure(select3, task_count) in a child process; true if it succeeded.
bool in_child(bool select3, long task_count) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid < 0) bench::fail("chan_frame_size: fork failed");
    if (pid == 0) {
        const int code = weft::run(weft::options{.workers = 2}, measure, select3, task_count);
        std::fflush(stdout);
        std::_Exit(code);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 1, 1);  // measured once per kind, each in a fresh process
    const long task_count = cfg.quick ? 250'000 : 1'000'000;
    if (!in_child(false, task_count)) bench::fail("chan_frame_size: the recv measurement failed");
    if (!in_child(true, task_count)) bench::fail("chan_frame_size: the select3 measurement failed");
}
