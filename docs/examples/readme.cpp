// The README's example: four workers square numbers from a channel; main gathers them under a deadline.
// Expected output: "sum of squares 1..100 = 338350", exit code 0.
#include <weft/weft.hpp>

#include <cstdio>

using namespace std::chrono_literals;

weft::task<> worker(weft::recv_chan<int> jobs, weft::send_chan<long> results) {
    while (auto j = co_await jobs.recv()) co_await results.send(long{*j} * *j);
}

weft::task<int> async_main() {
    auto jobs = weft::make_chan<int>(16);  // make(chan int, 16)
    auto results = weft::make_chan<long>();
    for (int w = 0; w < 4; ++w) weft::go(worker, jobs, results);  // go worker(jobs, results)
    weft::go([jobs]() -> weft::task<> {                           // go func() { ... }()
        for (int j = 1; j <= 100; ++j) co_await jobs.send(j);
        jobs.close();
    });
    auto deadline = weft::after(5s);  // time.After(5 * time.Second)
    long sum = 0;
    for (int n = 0; n < 100; ++n) {
        auto r = co_await weft::select(weft::recv(results), weft::recv(deadline));
        if (r.index() == 1) co_return 1;  // timed out
        sum += *std::get<0>(r);
    }
    std::printf("sum of squares 1..100 = %ld\n", sum);
    co_return 0;
}

int main() { return weft::run(async_main); }
