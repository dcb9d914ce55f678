// Provides the std::thread twin of ping_pong: two threads passing an int back and forth through two one-slot mailboxes
// (mutex + condition variable), 20,000 round trips — ns per round trip.
#include "../bench_util.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

// A one-slot mailbox: the thread version of a channel between exactly two threads.
class mailbox {
public:
    void send(long v) {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return !slot_; });
        slot_ = v;
        cv_.notify_all();
    }
    // nullopt once closed and empty.
    std::optional<long> recv() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return slot_ || closed_; });
        auto v = slot_;
        slot_.reset();
        cv_.notify_all();
        return v;
    }
    void close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::optional<long> slot_;
    bool closed_ = false;
};

double round_ns(long round_trips) {
    mailbox ping;
    mailbox pong;
    std::thread ponger([&] {
        while (auto v = ping.recv())
            pong.send(*v + 1);
    });
    long v = 0;
    const auto start = bench::now_ns();
    for (long i = 0; i < round_trips; ++i) {
        ping.send(v);
        v = *pong.recv();
    }
    const auto elapsed = bench::now_ns() - start;
    ping.close();
    ponger.join();
    if (v != round_trips)
        bench::fail("ping_pong: final value " + std::to_string(v) + ", want " + std::to_string(round_trips));
    return static_cast<double>(elapsed) / static_cast<double>(round_trips);
}

}  // namespace

int main(int argc, char** argv) {
    const auto cfg = bench::parse_args(argc, argv, 5, 3);
    const long round_trips = cfg.quick ? 10'000 : 20'000;  // threads are slow: fewer, scaled per round trip
    round_ns(round_trips / 10);                            // warm-up
    std::vector<double> samples;
    for (int r = 0; r < cfg.reps; ++r)
        samples.push_back(round_ns(round_trips));
    bench::report("ping_pong", "threads", bench::median(samples), "ns");
}
