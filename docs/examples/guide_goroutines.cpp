// The guide's goroutine section: go, spawn/join_handle, std::ref, wait_group, yield, num_tasks, maxprocs, panics.
// Expected output, in this order: "workers 2", "hello gopher", "total 4950", "7 squared is 49",
// "caught: no cheese", "recovered: out of cheese", "tasks alive besides main: 0", "yield let the setter run",
// exit code 0.
#include <weft/weft.hpp>

#include <atomic>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

// go greet("gopher", &wg): `name` is copied into the task; the wait_group is shared with std::ref.
weft::task<> greet(std::string name, weft::wait_group& wg) {
    std::printf("hello %s\n", name.c_str());
    wg.done();
    co_return;
}

weft::task<int> square(int x) { co_return x * x; }

weft::task<int> no_cheese() {
    throw std::runtime_error("no cheese");
    co_return 0;
}

weft::task<> out_of_cheese() {
    throw std::runtime_error("out of cheese");
    co_return;
}

weft::task<int> async_main() {
    std::printf("workers %u\n", weft::maxprocs());  // runtime.GOMAXPROCS(0)

    // go f(x) with a sync.WaitGroup
    weft::wait_group wg;
    wg.add(1);
    weft::go(greet, std::string("gopher"), std::ref(wg));
    co_await wg.wait();

    // wg.go: add(1) + go + done() when the task ends. The lambda captures `total` by
    // reference: safe, because this frame waits for every task before `total` goes away.
    std::atomic<int> total = 0;
    for (int i = 0; i < 100; ++i)
        wg.go([&total, i]() -> weft::task<> {
            total += i;
            co_return;
        });
    co_await wg.wait();
    std::printf("total %d\n", total.load());

    // spawn: a task whose result (or exception) comes back through a join_handle.
    auto seven = weft::spawn(square, 7);
    std::printf("7 squared is %d\n", co_await seven);
    auto failing = weft::spawn(no_cheese);
    try {
        co_await failing;
    } catch (const std::exception& e) {
        std::printf("caught: %s\n", e.what());
    }

    // A panic: an exception escaping a `go` task. By default weft prints it and aborts; a
    // handler (here: forward the message to a channel) replaces that.
    auto panics = weft::make_chan<std::string>(1);
    weft::set_panic_handler([panics](std::exception_ptr e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            panics.try_send(std::string(x.what()));
        }
    });
    weft::go(out_of_cheese);
    auto message = co_await panics.recv();
    std::printf("recovered: %s\n", message->c_str());
    weft::set_panic_handler(nullptr);  // back to print-and-abort

    // runtime.NumGoroutine(): the main task counts too.
    std::printf("tasks alive besides main: %zu\n", weft::num_tasks() - 1);
    co_return 0;
}

// runtime.Gosched(): on one worker, a task that polls must yield or nothing else ever runs.
weft::task<> yield_demo() {
    std::atomic<bool> flag = false;
    weft::wait_group wg;
    wg.go([&flag]() -> weft::task<> {
        while (!flag.load()) co_await weft::yield();
    });
    wg.go([&flag]() -> weft::task<> {
        flag = true;
        co_return;
    });
    co_await wg.wait();
    std::puts("yield let the setter run");
}

int main() {
    const int code = weft::run(weft::options{.workers = 2}, async_main);  // GOMAXPROCS=2
    weft::run(weft::options{.workers = 1}, yield_demo);                   // run may be called again
    return code;
}
