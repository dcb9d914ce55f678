// The guide's channel section: make_chan, send/recv, the ok idiom, range, close, len/cap, non-blocking ops, directions.
// Expected output, in this order: "got 1 ok", "1 2 3", "closed: ok=false", "len 2 cap 3",
// "try_send on a full channel: false", "try_recv: 10", "signals 3", "owned 42", exit code 0.
#include <weft/weft.hpp>

#include <cstdio>
#include <memory>
#include <optional>

// func produce(out chan<- int): a send-only view.
weft::task<> produce(weft::send_chan<int> out, int n) {
    for (int i = 1; i <= n; ++i) co_await out.send(i);  // out <- i
    out.close();                                        // close(out)
}

weft::task<> async_main() {
    auto ch = weft::make_chan<int>();  // ch := make(chan int)
    weft::go(produce, ch, 3);

    // v, ok := <-ch
    std::optional<int> v = co_await ch.recv();
    if (v) std::printf("got %d ok\n", *v);

    // for v := range ch { ... }   (the loop ends when ch is closed and drained)
    std::printf("1");
    while (auto next = co_await ch.recv()) std::printf(" %d", *next);
    std::printf("\n");
    auto after_close = co_await ch.recv();  // a closed, drained channel gives nullopt at once
    std::printf("closed: ok=%s\n", after_close ? "true" : "false");

    // len(ch), cap(ch) on a buffered channel
    auto buf = weft::make_chan<int>(3);  // make(chan int, 3)
    co_await buf.send(10);
    co_await buf.send(20);
    std::printf("len %zu cap %zu\n", buf.size(), buf.capacity());

    // Non-blocking send and receive (Go: select with a default case).
    (void)buf.try_send(30);
    std::printf("try_send on a full channel: %s\n", buf.try_send(40) ? "true" : "false");
    if (auto first = buf.try_recv()) std::printf("try_recv: %d\n", *first);

    // chan struct{}: weft::unit carries no data and takes no buffer space.
    auto signals = weft::make_chan<weft::unit>(8);
    for (int i = 0; i < 3; ++i) co_await signals.send(weft::unit{});
    signals.close();
    int count = 0;
    while (co_await signals.recv()) ++count;
    std::printf("signals %d\n", count);

    // Move-only values move through a channel.
    auto owned = weft::make_chan<std::unique_ptr<int>>(1);
    co_await owned.send(std::make_unique<int>(42));
    auto box = co_await owned.recv();
    std::printf("owned %d\n", **box);
}

int main() { weft::run(async_main); }
