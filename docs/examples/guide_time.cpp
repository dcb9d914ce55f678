// The guide's time section: sleep_for, sleep_until, after, timer stop/reset, ticker, after_func.
// Expected output, in this order: "slept", "woke at the deadline", "after fired", "stop before firing: true",
// "reset of a stopped timer: false", "timer fired", "stop after the value was received: false", "3 ticks",
// "no tick after stop", "after_func ran", "stopped after_func: true", exit code 0.
#include <weft/weft.hpp>

#include <cstdio>

using namespace std::chrono_literals;

weft::task<> async_main() {
    // time.Sleep(10 * time.Millisecond): parks the task; the worker runs other tasks meanwhile.
    co_await weft::sleep_for(10ms);
    std::puts("slept");
    const auto deadline = weft::steady_clock::now() + 10ms;
    co_await weft::sleep_until(deadline);
    if (weft::steady_clock::now() >= deadline) std::puts("woke at the deadline");  // never early

    // <-time.After(5 * time.Millisecond)
    co_await weft::after(5ms).recv();
    std::puts("after fired");

    // t := time.NewTimer(d); t.Stop(); t.Reset(d)
    weft::timer t(1h);
    std::printf("stop before firing: %s\n", t.stop() ? "true" : "false");
    std::printf("reset of a stopped timer: %s\n", t.reset(5ms) ? "true" : "false");
    co_await t.c().recv();
    std::puts("timer fired");
    std::printf("stop after the value was received: %s\n", t.stop() ? "true" : "false");

    // tk := time.NewTicker(d); defer tk.Stop()
    weft::ticker tk(5ms);
    int ticks = 0;
    while (ticks < 3) {
        co_await tk.c().recv();
        ++ticks;
    }
    tk.stop();
    std::printf("%d ticks\n", ticks);
    co_await weft::sleep_for(20ms);
    if (!tk.c().try_recv()) std::puts("no tick after stop");  // Go 1.23: no stale tick

    // time.AfterFunc(d, f): f runs as a new task (it may be a plain function or return a task).
    auto ran = weft::make_chan<weft::unit>(1);
    weft::timer af = weft::after_func(5ms, [ran] { (void)ran.try_send(weft::unit{}); });
    co_await ran.recv();
    std::puts("after_func ran");
    weft::timer never = weft::after_func(1h, [] { std::puts("not printed"); });
    std::printf("stopped after_func: %s\n", never.stop() ? "true" : "false");
}

int main() { weft::run(async_main); }
