// Provides the consumer check's program: a user's main.cpp that touches every part of weft
// (tasks, go/spawn, wait_group, channels, select, timers, contexts) and prints "consumer ok".
#include <weft/weft.hpp>

#include <atomic>
#include <cstdio>

using namespace std::chrono_literals;

weft::task<long> leaf(long i) {
    co_return i;
}

weft::task<> producer(weft::send_chan<int> out, int n) {
    for (int i = 1; i <= n; ++i)
        co_await out.send(i);
    out.close();
}

weft::task<int> async_main() {
    int failures = 0;

    std::atomic<long> sum = 0;
    weft::wait_group wg;
    for (long i = 0; i < 1000; ++i)
        wg.go([&sum, i]() -> weft::task<> { sum += co_await leaf(i); });
    co_await wg.wait();
    if (sum != 499500) ++failures;

    auto handle = weft::spawn(leaf, 42L);
    if (co_await handle != 42) ++failures;

    auto numbers = weft::make_chan<int>(4);
    weft::go(producer, numbers, 10);
    int total = 0;
    while (auto v = co_await numbers.recv())
        total += *v;
    if (total != 55) ++failures;

    auto never = weft::make_chan<int>();
    auto r = co_await weft::select(weft::recv(never), weft::recv(weft::after(5ms)));
    if (r.index() != 1) ++failures;

    auto [ctx, cancel] = weft::with_timeout(weft::background(), 5ms);
    if (co_await weft::sleep_for(1h, ctx) != weft::errc::deadline_exceeded) ++failures;
    cancel();

    std::printf("consumer %s\n", failures == 0 ? "ok" : "FAILED");
    co_return failures == 0 ? 0 : 1;
}

int main() {
    return weft::run(async_main);
}
