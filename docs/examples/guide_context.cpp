// The guide's context section: with_cancel, with_timeout, with_deadline, with_value, without_cancel, after_func, causes.
// Expected output, in this order: "worker stopped: context canceled", "sleep: context deadline exceeded",
// "child deadline not after the parent deadline: true", "recv: context deadline exceeded", "user alice",
// "detached: err empty, done nil, user alice", "after_func ran", "stop after it ran: false",
// "err: context canceled, cause is timed_out: true", "send: context canceled", exit code 0.
#include <weft/weft.hpp>

#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

using namespace std::chrono_literals;

// The usual worker loop: for { select { case j := <-jobs: ...; case <-ctx.Done(): return ctx.Err() } }
weft::task<> worker(weft::context ctx, weft::recv_chan<int> jobs, weft::send_chan<std::string> report) {
    for (;;) {
        auto r = co_await jobs.recv(ctx);  // recv_result: value, or err once ctx is done
        if (r.err) {
            std::string line = "worker stopped: " + r.err.message();
            co_await report.send(std::move(line));
            co_return;
        }
    }
}

static const int user_key = 0;  // a key with an address of its own (Go: type key struct{})

weft::task<> async_main() {
    // ctx, cancel := context.WithCancel(context.Background())
    auto [ctx, cancel] = weft::with_cancel(weft::background());
    auto jobs = weft::make_chan<int>();
    auto report = weft::make_chan<std::string>();
    weft::go(worker, ctx, jobs, report);
    cancel();  // cancels ctx and everything derived from it
    std::puts((co_await report.recv())->c_str());

    // context.WithTimeout: sleep_for(d, ctx) returns early with ctx.err().
    auto [short_ctx, cancel_short] = weft::with_timeout(weft::background(), 10ms);
    std::error_code e = co_await weft::sleep_for(1h, short_ctx);
    std::printf("sleep: %s\n", e.message().c_str());
    cancel_short();  // release it (a no-op here: the deadline already cancelled it)

    // context.WithDeadline: a child's deadline is never later than its parent's.
    auto [parent, cancel_parent] = weft::with_timeout(weft::background(), 20ms);
    auto [child, cancel_child] = weft::with_deadline(parent, weft::steady_clock::now() + 1h);
    std::printf("child deadline not after the parent deadline: %s\n",
                *child.deadline() <= *parent.deadline() ? "true" : "false");
    auto never = weft::make_chan<int>();
    auto r = co_await never.recv(child);
    std::printf("recv: %s\n", r.err.message().c_str());
    cancel_child();
    cancel_parent();

    // context.WithValue / ctx.Value(key)
    weft::context with_user = weft::with_value(weft::background(), &user_key, std::string("alice"));
    auto [req, cancel_req] = weft::with_cancel(with_user);
    std::printf("user %s\n", req.value<std::string>(&user_key).value_or("?").c_str());

    // context.WithoutCancel: keeps the values, drops cancellation (and the deadline).
    weft::context detached = weft::without_cancel(req);
    cancel_req();
    std::printf("detached: err %s, done %s, user %s\n", detached.err() ? "set" : "empty",
                detached.done().is_nil() ? "nil" : "non-nil",
                detached.value<std::string>(&user_key).value_or("?").c_str());

    // context.AfterFunc(ctx, f): f runs as a new task once ctx is done.
    auto [job_ctx, cancel_job] = weft::with_cancel(weft::background());
    auto ran = weft::make_chan<weft::unit>(1);
    auto stop_handle = weft::after_func(job_ctx, [ran] { (void)ran.try_send(weft::unit{}); });
    cancel_job();
    co_await ran.recv();
    std::puts("after_func ran");
    std::printf("stop after it ran: %s\n", stop_handle.stop() ? "true" : "false");

    // context.WithCancelCause / context.Cause
    auto [cctx, cancel_cause] = weft::with_cancel_cause(weft::background());
    cancel_cause(std::make_error_code(std::errc::timed_out));
    std::error_code err = co_await cctx.wait();  // <-ctx.Done(); ctx.Err()
    std::printf("err: %s, cause is timed_out: %s\n", err.message().c_str(),
                cctx.cause() == std::errc::timed_out ? "true" : "false");

    // A send that gives up when the context ends.
    std::error_code send_err = co_await never.send(1, cctx);
    std::printf("send: %s\n", send_err.message().c_str());
}

int main() { weft::run(async_main); }
