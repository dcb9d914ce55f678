// The BAD/GOOD pairs of docs/pitfalls.md: each BAD function compiles but is never called; main runs the GOOD ones.
// Expected output, in this order: "1 captured by value", "2 lambda kept alive: 42", "3 slept without blocking",
// "4 read on a thread: config", "5 locked around a co_await", "6 waited for 3 tasks", "7 first of 3 servers",
// "8 sent yes", "8 pumped 3 values", "9 overload through a lambda", "10 yielded 1000 times", "11 caught: bad input",
// "12 one timer for 5 messages", "13 waited before rethrowing: disk full", exit code 0.
// Compile with -DWEFT_PITFALLS_COMPILE_ERRORS to see the two mistakes the compiler catches.
#include <weft/weft.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

using namespace std::chrono_literals;

// 1. References to locals in detached tasks ------------------------------------------------

// BAD: the task outlives `prefix`; it reads a destroyed string.
weft::task<> bad_log_later() {
    std::string prefix = "log: ";
    weft::go([&prefix]() -> weft::task<> {
        co_await weft::sleep_for(10ms);
        std::printf("%sdone\n", prefix.c_str());
    });
    co_return;  // `prefix` dies here; the task has not even started
}

// GOOD: capture by value (go also copies its arguments), so the task owns its data.
weft::task<> good_log_later(weft::wait_group& wg) {
    std::string prefix = "1 ";
    wg.go([prefix]() -> weft::task<> {
        co_await weft::sleep_for(1ms);
        std::printf("%scaptured by value\n", prefix.c_str());
    });
    co_return;
}

// 2. Capturing lambdas called as temporaries ---------------------------------------------

// BAD: the closure object (which holds `x`) is a temporary destroyed at the end of the
// statement; the lazy task runs later and reads `x` through a dangling `this`.
weft::task<int> bad_lazy_lambda(int x) {
    weft::task<int> t = [x]() -> weft::task<int> { co_return x * 2; }();
    co_return co_await t;
}

// GOOD: keep the lambda alive while its task runs (or use parameters instead of captures:
// parameters are copied into the coroutine frame).
weft::task<int> good_lazy_lambda(int x) {
    auto twice = [x]() -> weft::task<int> { co_return x * 2; };
    int a = co_await twice();
    int b = co_await [](int v) -> weft::task<int> { co_return v * 2; }(x);
    co_return a + b - x * 2;
}

// 3. Blocking the worker thread ------------------------------------------------------------

// BAD: std::this_thread::sleep_for blocks the worker: no other task runs on it meanwhile.
weft::task<> bad_sleep() {
    std::this_thread::sleep_for(100ms);
    co_return;
}

// GOOD: weft::sleep_for parks the task and frees the worker.
weft::task<> good_sleep() {
    co_await weft::sleep_for(10ms);
    std::puts("3 slept without blocking");
}

// 4. Blocking I/O inside a task -------------------------------------------------------------

std::string slow_blocking_read() {  // stands for read(2), getline, a database client...
    std::this_thread::sleep_for(10ms);
    return "config";
}

// BAD: the worker thread is stuck in the call.
weft::task<std::string> bad_read() { co_return slow_blocking_read(); }

// GOOD: do it on a thread of its own; the result comes back through a channel that has
// room for it (try_send from a plain thread cannot block and cannot fail here).
weft::task<std::string> good_read() {
    auto result = weft::make_chan<std::string>(1);
    std::thread reader([result] { (void)result.try_send(slow_blocking_read()); });
    auto text = co_await result.recv();
    reader.join();  // the thread has sent: it is returning, join waits only for that
    co_return std::move(*text);
}

// 5. A std::mutex held across co_await -------------------------------------------------------

std::mutex counter_mutex;
int counter = 0;

// BAD: the task parks holding the lock. Another task on the same worker that locks it blocks
// the worker thread (deadlock if the holder needs that worker), and the holder may resume
// on another thread and unlock a mutex that thread does not own (undefined behaviour).
weft::task<> bad_locked(weft::chan<int> ch) {
    std::lock_guard lock(counter_mutex);
    co_await ch.send(counter);
    ++counter;
}

// GOOD: lock only between suspension points; to hold exclusion across a co_await, use a
// channel of capacity 1 as the lock (send to acquire, receive to release).
weft::task<> good_locked(weft::chan<weft::unit> lock, weft::chan<int> ch) {
    co_await lock.send(weft::unit{});  // acquire
    co_await ch.send(counter);
    ++counter;
    (void)lock.try_recv();  // release
}

// 6. Forgetting to wait -------------------------------------------------------------------------

weft::task<> work(int id, std::atomic<int>& finished) {
    co_await weft::sleep_for(std::chrono::milliseconds(id));
    ++finished;
}

// BAD: the main task returns at once; run() then destroys the three tasks unfinished.
weft::task<> bad_main() {
    std::atomic<int> finished = 0;
    for (int i = 0; i < 3; ++i) weft::go(work, i, std::ref(finished));
    co_return;
}

// GOOD: a wait_group (or join handles) to wait for them.
weft::task<> good_main() {
    std::atomic<int> finished = 0;
    weft::wait_group wg;
    for (int i = 0; i < 3; ++i) wg.go(work, i, std::ref(finished));
    co_await wg.wait();
    std::printf("6 waited for %d tasks\n", finished.load());
}

// 7. Tasks blocked forever on a channel nobody reads ------------------------------------------

weft::task<> query(int server, weft::send_chan<int> out) {
    co_await weft::sleep_for(std::chrono::milliseconds(1 + server));
    co_await out.send(server);
}

// BAD: only the first answer is read; the other two senders stay parked on the unbuffered
// channel until run() ends, holding their frames.
weft::task<int> bad_first() {
    auto answers = weft::make_chan<int>();
    for (int s = 0; s < 3; ++s) weft::go(query, s, answers);
    co_return *co_await answers.recv();
}

// GOOD: room for every answer, so every sender finishes (or: close a channel / cancel a
// context the senders select on).
weft::task<int> good_first() {
    auto answers = weft::make_chan<int>(3);
    for (int s = 0; s < 3; ++s) weft::go(query, s, answers);
    co_return *co_await answers.recv();
}

// 8. g++ 12: two co_await patterns it miscompiles ---------------------------------------------------

// A conditional expression yielding a class-type temporary inside co_await.

// BAD: g++ 12 miscompiles this (AddressSanitizer: heap-use-after-free); clang is fine.
weft::task<> bad_send_choice(weft::chan<std::string> ch, bool ok, std::string name) {
    co_await ch.send(ok ? std::string("yes") : name);
}

// GOOD: name the value first.
weft::task<> good_send_choice(weft::chan<std::string> ch, bool ok, std::string name) {
    std::string value = ok ? std::string("yes") : name;
    co_await ch.send(std::move(value));
}

// co_await in a condition, in a coroutine that declares no local variable.

// Moves one value from `in` to `out`; false once `in` is closed and drained.
weft::task<bool> pump(weft::recv_chan<int> in, weft::send_chan<int> out) {
    auto value = co_await in.recv();
    if (!value) co_return false;
    co_await out.send(*value);
    co_return true;
}

// BAD: g++ 12.2 never runs this coroutine's body (its first resume goes back to the initial
// suspend point), so the task never finishes; clang is fine. A non-empty body fails too.
weft::task<> bad_pump_all(weft::recv_chan<int> in, weft::send_chan<int> out) {
    while (co_await pump(in, out)) {
    }
}

// GOOD: name the awaited value first, then test it: no co_await in the condition.
weft::task<> good_pump_all(weft::recv_chan<int> in, weft::send_chan<int> out) {
    for (;;) {
        bool more = co_await pump(in, out);
        if (!more) break;
    }
}

// 9. Overloaded functions passed to go --------------------------------------------------------------

weft::task<> ping(int n, weft::send_chan<std::string> out) { co_await out.send("int " + std::to_string(n)); }
weft::task<> ping(std::string s, weft::send_chan<std::string> out) { co_await out.send("string " + s); }

#ifdef WEFT_PITFALLS_COMPILE_ERRORS
weft::task<> compile_errors(weft::chan<std::string> out, weft::wait_group& wg) {
    weft::go(ping, 1, out);  // error: which `ping`? An overload set has no type to deduce
    weft::go(good_log_later, wg);  // error: a reference parameter needs std::ref(wg)
    co_return;
}
#endif

// GOOD: a lambda picks the overload (a coroutine lambda, so its parameters live in its frame).
weft::task<> good_overload(weft::chan<std::string> out) {
    weft::go([](int n, weft::send_chan<std::string> o) -> weft::task<> { co_await ping(n, o); }, 1, out);
    co_return;
}

// 10. A task that never suspends -------------------------------------------------------------------

// BAD: spins until another task sets the flag. It holds its worker the whole time: on one
// worker the setter never runs, and with more workers the task it just woke (its LIFO slot)
// waits behind the loop.
weft::task<> bad_spin(std::atomic<bool>& flag) {
    while (!flag.load()) {
    }
    co_return;
}

// GOOD: a long loop yields now and then (or waits on a channel instead of polling).
weft::task<> good_spin(std::atomic<bool>& flag, std::atomic<int>& yields) {
    while (!flag.load()) {
        co_await weft::yield();
        ++yields;
    }
}

// 11. Exceptions escaping a go task -------------------------------------------------------------------

weft::task<int> parse(std::string text) {
    if (text.empty()) throw std::invalid_argument("bad input");
    co_return static_cast<int>(text.size());
}

// BAD: nobody can observe this exception: weft prints "weft: panic in task: ..." and aborts.
weft::task<> bad_parse_detached() {
    weft::go(parse, std::string());
    co_return;
}

// GOOD: spawn and await the handle (or catch inside the task).
weft::task<> good_parse() {
    auto handle = weft::spawn(parse, std::string());
    try {
        co_await handle;
    } catch (const std::invalid_argument& e) {
        std::printf("11 caught: %s\n", e.what());
    }
}

// 12. after() in a loop -----------------------------------------------------------------------------------

// BAD: every iteration arms a fresh one-minute timer; each stays in the timer wheel with its
// channel until it fires, long after its select returned.
weft::task<int> bad_timeouts(weft::chan<int> messages) {
    int n = 0;
    for (;;) {
        auto r = co_await weft::select(weft::recv(messages), weft::recv(weft::after(1min)));
        if (r.index() == 1 || !std::get<0>(r)) co_return n;
        ++n;
    }
}

// GOOD: one timer, reset for each message.
weft::task<int> good_timeouts(weft::chan<int> messages) {
    int n = 0;
    weft::timer idle(1min);
    for (;;) {
        auto r = co_await weft::select(weft::recv(messages), weft::recv(idle.c()));
        if (r.index() == 1 || !std::get<0>(r)) co_return n;
        ++n;
        idle.reset(1min);
    }
}

// 13. An early exit that skips the wait ------------------------------------------------------------

void check_disk(bool full) {
    if (full) throw std::runtime_error("disk full");
}

// BAD: if check_disk throws, the frame unwinds past co_await wg.wait(): `results` and `wg`
// are destroyed while the tasks still use them.
weft::task<> bad_early_exit(bool full) {
    std::atomic<int> results = 0;
    weft::wait_group wg;
    for (int i = 0; i < 3; ++i) wg.go(work, i, std::ref(results));
    check_disk(full);
    co_await wg.wait();
}

// GOOD: wait before leaving the scope, whatever happens (there is no co_await in a destructor).
weft::task<> good_early_exit(bool full) {
    std::atomic<int> results = 0;
    weft::wait_group wg;
    for (int i = 0; i < 3; ++i) wg.go(work, i, std::ref(results));
    std::exception_ptr failure;
    try {
        check_disk(full);
    } catch (...) {
        failure = std::current_exception();
    }
    co_await wg.wait();
    if (failure) std::rethrow_exception(failure);
}

// ------------------------------------------------------------------------------------------------------

weft::task<> async_main() {
    weft::wait_group wg;
    co_await good_log_later(wg);
    co_await wg.wait();

    std::printf("2 lambda kept alive: %d\n", co_await good_lazy_lambda(21));
    co_await good_sleep();
    std::printf("4 read on a thread: %s\n", (co_await good_read()).c_str());

    auto lock = weft::make_chan<weft::unit>(1);
    auto sink = weft::make_chan<int>(2);
    wg.go(good_locked, lock, sink);
    wg.go(good_locked, lock, sink);
    co_await wg.wait();
    if (counter == 2) std::puts("5 locked around a co_await");

    co_await good_main();
    const int first = co_await good_first();
    if (first >= 0 && first < 3) std::puts("7 first of 3 servers");

    auto words = weft::make_chan<std::string>(1);
    co_await good_send_choice(words, true, "no");
    std::printf("8 sent %s\n", (co_await words.recv())->c_str());

    auto in = weft::make_chan<int>(3);
    auto out = weft::make_chan<int>(3);
    for (int i = 1; i <= 3; ++i) co_await in.send(i);
    in.close();
    co_await good_pump_all(in, out);
    std::printf("8 pumped %zu values\n", out.size());

    auto pings = weft::make_chan<std::string>(1);
    co_await good_overload(pings);
    if (*co_await pings.recv() == "int 1") std::puts("9 overload through a lambda");

    std::atomic<bool> flag = false;
    std::atomic<int> yields = 0;
    wg.go(good_spin, std::ref(flag), std::ref(yields));
    while (yields.load() < 1000) co_await weft::yield();
    flag = true;
    co_await wg.wait();
    std::puts("10 yielded 1000 times");

    co_await good_parse();

    auto messages = weft::make_chan<int>(5);
    for (int i = 0; i < 5; ++i) co_await messages.send(i);
    messages.close();
    std::printf("12 one timer for %d messages\n", co_await good_timeouts(messages));

    try {
        co_await good_early_exit(true);
    } catch (const std::runtime_error& e) {
        std::printf("13 waited before rethrowing: %s\n", e.what());
    }
}

int main() { weft::run(async_main); }
