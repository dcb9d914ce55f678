// Provides the small helpers weft's tests share: WEFT_TEST_SCALE sizing, a live-object probe,
// scoped panic-handler and environment-variable guards, the resident set size.
//
// Sizes: every large loop count goes through scaled(n). WEFT_TEST_SCALE (a positive real,
// e.g. 0.1) multiplies it; without the variable the scale is 1, or 0.1 in a sanitizer build.
#pragma once

#include <weft/chan.hpp>
#include <weft/go.hpp>
#include <weft/runtime.hpp>
#include <weft/wait_group.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define WEFT_TEST_SANITIZED 1
#endif
#endif
#ifndef WEFT_TEST_SANITIZED
#define WEFT_TEST_SANITIZED 0
#endif

namespace weft_test {

// The WEFT_TEST_SCALE multiplier (see the file comment).
inline double scale() {
    static const double value = [] {
        if (const char* text = std::getenv("WEFT_TEST_SCALE")) {
            char* end = nullptr;
            const double parsed = std::strtod(text, &end);
            if (end != text && parsed > 0) return parsed;
        }
        return WEFT_TEST_SANITIZED ? 0.1 : 1.0;
    }();
    return value;
}

// n scaled by WEFT_TEST_SCALE, at least `floor`.
inline std::size_t scaled(std::size_t n, std::size_t floor = 1) {
    const auto value = static_cast<std::size_t>(static_cast<double>(n) * scale());
    return std::max(value, floor);
}

// Resident set size in bytes (/proc/self/statm).
inline std::size_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t size = 0;
    std::size_t resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Counts live instances (construction and copies increment, destruction decrements), to
// observe that a task's frame - arguments, captures, locals - was destroyed.
class probe {
public:
    explicit probe(std::atomic<long>& live) noexcept : live_(&live) { live_->fetch_add(1); }
    probe(const probe& other) noexcept : live_(other.live_) { live_->fetch_add(1); }
    probe(probe&& other) noexcept : live_(other.live_) { live_->fetch_add(1); }
    probe& operator=(const probe&) = delete;
    probe& operator=(probe&&) = delete;
    ~probe() { live_->fetch_sub(1); }

private:
    std::atomic<long>* live_;
};

// A relay that keeps one worker's local run queue busy forever: each hop spawns the next
// before it ends. It stops when `rival` has run (the task a fairness test expects not to
// starve) or after `hop_limit` hops (the rival starved). Start it with go(hop, std::ref(r)),
// then co_await r.finished.wait().
struct spawn_relay {
    explicit spawn_relay(long limit) : hop_limit(limit) { finished.add(1); }
    static weft::task<> hop(spawn_relay& r) {
        if (r.rival_ran.load() || r.hops.fetch_add(1) >= r.hop_limit) {
            r.finished.done();
            co_return;
        }
        weft::go(hop, std::ref(r));
    }
    static weft::task<> rival(spawn_relay& r) {
        r.rival_ran.store(true);
        co_return;
    }
    // The hops made, or -1 if the rival never ran.
    long outcome() const { return rival_ran.load() ? hops.load() : -1; }

    const long hop_limit;
    std::atomic<bool> rival_ran{false};
    std::atomic<long> hops{0};
    weft::wait_group finished;
};

// Installs a panic handler for the scope and restores the previous one after.
class panic_handler_guard {
public:
    explicit panic_handler_guard(weft::panic_handler handler)
        : previous_(weft::set_panic_handler(std::move(handler))) {}
    panic_handler_guard(const panic_handler_guard&) = delete;
    panic_handler_guard& operator=(const panic_handler_guard&) = delete;
    ~panic_handler_guard() { weft::set_panic_handler(std::move(previous_)); }

private:
    weft::panic_handler previous_;
};

// Sets (or, with nullopt, unsets) an environment variable for the scope and restores it after.
class env_guard {
public:
    env_guard(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        apply(value);
    }
    env_guard(const env_guard&) = delete;
    env_guard& operator=(const env_guard&) = delete;
    ~env_guard() { apply(old_); }

private:
    void apply(const std::optional<std::string>& value) const {
        if (value)
            ::setenv(name_, value->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    const char* name_;
    std::optional<std::string> old_;
};

// Sends from, from+1, ..., to-1 on `c`.
inline weft::task<> send_range(weft::send_chan<int> c, int from, int to) {
    for (int i = from; i < to; ++i)
        co_await c.send(i);
}

// Receives until the channel is closed and drained, appending every value to `out`.
inline weft::task<> drain_into(weft::recv_chan<int> c, std::vector<int>& out) {
    while (auto v = co_await c.recv())
        out.push_back(*v);
}

}  // namespace weft_test
