// The guide's select section: recv and send cases, default, nil channels to disable cases, a timeout.
// Expected output, in this order: "nothing ready", "sent 1", "received 1", "merged 10 values, sum 150",
// "timeout", exit code 0.
#include <weft/weft.hpp>

#include <cstdio>

using namespace std::chrono_literals;

weft::task<> count(weft::send_chan<int> out, int from, int to) {
    for (int i = from; i <= to; ++i) co_await out.send(i);
    out.close();
}

weft::task<> async_main() {
    auto ch = weft::make_chan<int>(1);

    // select { case v := <-ch: ...; default: ... }
    auto r = co_await weft::select(weft::recv(ch), weft::default_case);
    if (r.index() == 1) std::puts("nothing ready");

    // select { case ch <- 1: ...; case v := <-ch: ... }: only the send can proceed.
    auto s = co_await weft::select(weft::send(ch, 1), weft::recv(ch));
    if (s.index() == 0) std::puts("sent 1");
    auto t = co_await weft::select(weft::send(ch, 2), weft::recv(ch));
    if (t.index() == 1) std::printf("received %d\n", *std::get<1>(t));

    // Merge two channels until both are closed. Setting a channel to nil (a
    // default-constructed chan) disables its case, as in Go.
    weft::chan<int> a = weft::make_chan<int>(), b = weft::make_chan<int>();
    weft::go(count, a, 1, 5);
    weft::go(count, b, 25, 29);
    int values = 0, sum = 0;
    while (!a.is_nil() || !b.is_nil()) {
        auto m = co_await weft::select(weft::recv(a), weft::recv(b));
        auto& got = m.index() == 0 ? std::get<0>(m) : std::get<1>(m);
        if (!got) {                          // closed: v, ok := <-a gave ok == false
            (m.index() == 0 ? a : b) = {};   // a = nil
            continue;
        }
        ++values;
        sum += *got;
    }
    std::printf("merged %d values, sum %d\n", values, sum);

    // select { case v := <-never: ...; case <-time.After(20 * time.Millisecond): ... }
    auto never = weft::make_chan<int>();
    auto to = co_await weft::select(weft::recv(never), weft::recv(weft::after(20ms)));
    if (to.index() == 1) std::puts("timeout");
}

int main() { weft::run(async_main); }
