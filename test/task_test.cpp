// Provides the doctest cases for weft::task (include/weft/task.hpp): results, exceptions,
// reference and move-only results, misuse, symmetric transfer and frame destruction.
#include <weft/weft.hpp>

#include "test_support.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

struct test_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

weft::task<int> level3(int x, bool fail) {
    if (fail) throw test_error("failed at level 3");
    co_return x * 2;
}
weft::task<int> level2(int x, bool fail) {
    const int v = co_await level3(x, fail);
    co_return v + 1;
}
weft::task<int> level1(int x, bool fail) {
    const int v = co_await level2(x, fail);
    co_return v * 10;
}

// The same three levels with a suspension (yield) in each, so the frames may resume on
// another worker between the throw and the catch.
weft::task<int> yielding_level3(int x, bool fail) {
    co_await weft::yield();
    if (fail) throw test_error("failed at yielding level 3");
    co_return x * 2;
}
weft::task<int> yielding_level2(int x, bool fail) {
    co_await weft::yield();
    const int v = co_await yielding_level3(x, fail);
    co_return v + 1;
}
weft::task<int> yielding_level1(int x, bool fail) {
    const int v = co_await yielding_level2(x, fail);
    co_await weft::yield();
    co_return v * 10;
}

// A frame holding 16-aligned locals across a suspension point. Compilers assume operator new
// returns 16-aligned memory for any frame (Clang stores a local int[4] with movaps), so the
// frame pool's blocks must all be 16-aligned: 8-byte size classes crashed here. The
// alignment comes from the types: GCC 12 ignores `alignas` written on a coroutine's local
// variable itself (the variable lands misaligned whatever the allocator returns).
struct alignas(16) sixteen_aligned {
    unsigned char bytes[24];
};
weft::task<std::uintptr_t> aligned_local_address() {
    sixteen_aligned buffer{};
    long double wide = 1;
    co_await weft::yield();
    buffer.bytes[0] = 1;
    wide += 1;
    const auto a = reinterpret_cast<std::uintptr_t>(&buffer);
    const auto b = reinterpret_cast<std::uintptr_t>(&wide);
    co_return (a % 16) + (b % 16) + (wide == 2 ? 0 : 1) + (buffer.bytes[0] == 1 ? 0 : 1);
}

// What a coroutine caught, reported to the test thread.
struct caught {
    bool threw = false;
    std::string what;
};

template <class Task>
weft::task<caught> catch_from(Task t) {
    caught result;
    try {
        static_cast<void>(co_await t);
    } catch (const std::exception& e) {
        result.threw = true;
        result.what = e.what();
    }
    co_return result;
}

weft::task<caught> catch_level1() {
    co_return co_await catch_from(level1(4, true));
}
weft::task<caught> catch_yielding_level1() {
    co_return co_await catch_from(yielding_level1(4, true));
}

weft::task<int&> pick(int& a, int& b, bool first) {
    if (first) co_return a;
    co_return b;
}
weft::task<int&> pick_again(int& a, int& b, bool first) {
    int& r = co_await pick(a, b, first);
    co_return r;
}
weft::task<const std::string&> longest(const std::vector<std::string>& words) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < words.size(); ++i)
        if (words[i].size() > words[best].size()) best = i;
    co_return words[best];
}

weft::task<> append(std::vector<int>& out, int value) {
    out.push_back(value);
    co_return;
}
weft::task<> append_after_yield(std::vector<int>& out, int value) {
    co_await weft::yield();
    out.push_back(value);
}
weft::task<> void_thrower(bool fail) {
    co_await weft::yield();
    if (fail) throw test_error("void task failed");
}

weft::task<std::unique_ptr<int>> make_box(int v) {
    co_return std::make_unique<int>(v);
}
weft::task<std::unique_ptr<int>> forward_box(int v) {
    co_return co_await make_box(v);
}
weft::task<std::unique_ptr<int>> forward_box_twice(int v) {
    std::unique_ptr<int> box = co_await forward_box(v);
    *box += 1;
    co_return box;
}

// Move-only and not default-constructible: the result slot must not need a default.
class only_move {
public:
    explicit only_move(int v) : value_(std::make_unique<int>(v)) {}
    only_move(only_move&&) noexcept = default;
    only_move& operator=(only_move&&) noexcept = default;
    int value() const { return *value_; }

private:
    std::unique_ptr<int> value_;
};
weft::task<only_move> make_only_move(int v) {
    co_return only_move{v};
}

weft::task<weft_test::probe> make_probe(std::atomic<long>& live) {
    co_return weft_test::probe{live};
}

weft::task<std::uint64_t> trivial(std::uint64_t i) {
    co_return i;
}
weft::task<std::uint64_t> trivial_two_levels(std::uint64_t i) {
    co_return co_await trivial(i);
}

weft::task<std::uint64_t> sum_in_a_row(std::uint64_t n) {
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < n; ++i)
        sum += co_await trivial(i);
    co_return sum;
}
weft::task<std::uint64_t> sum_two_levels_in_a_row(std::uint64_t n) {
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < n; ++i)
        sum += co_await trivial_two_levels(i);
    co_return sum;
}
weft::task<std::uint64_t> nested_chain(std::uint64_t depth) {
    if (depth == 0) co_return 0;
    const std::uint64_t below = co_await nested_chain(depth - 1);
    co_return below + 1;
}

weft::task<int> holds_local(std::atomic<long>& live, bool fail) {
    const weft_test::probe local{live};
    co_await weft::yield();  // suspended with the local alive
    if (fail) throw test_error("holds_local failed");
    co_return 1;
}
weft::task<int> owns_argument(weft_test::probe p) {
    static_cast<void>(p);
    co_return 5;
}
weft::task<> set_flag(bool& flag) {
    flag = true;
    co_return;
}

std::uint64_t triangle(std::uint64_t n) {
    return n * (n - 1) / 2;
}

}  // namespace

TEST_SUITE("task") {
    TEST_CASE("a value propagates through three levels of co_await") {
        const int result = weft::run(level1, 4, false);
        CHECK(result == 90);
    }

    TEST_CASE("a value propagates through three levels that suspend in between") {
        const int result = weft::run(weft::options{.workers = 3}, yielding_level1, 4, false);
        CHECK(result == 90);
    }

    TEST_CASE("an exception propagates through three levels of co_await to the awaiting task") {
        const caught c = weft::run(catch_level1);
        CHECK(c.threw);
        CHECK(c.what == "failed at level 3");
    }

    TEST_CASE("an exception propagates through three suspending levels to the awaiting task") {
        const caught c = weft::run(weft::options{.workers = 3}, catch_yielding_level1);
        CHECK(c.threw);
        CHECK(c.what == "failed at yielding level 3");
    }

    TEST_CASE("an exception propagates through three levels of co_await out of run") {
        CHECK_THROWS_AS(weft::run(level1, 4, true), test_error);
        CHECK_THROWS_WITH_AS(weft::run(level1, 4, true), "failed at level 3", test_error);
    }

    TEST_CASE("a task is lazy: its body runs only when awaited") {
        const bool ok = weft::run([]() -> weft::task<bool> {
            bool flag = false;
            auto t = set_flag(flag);
            const bool before = flag;
            co_await weft::yield();
            const bool after_yield = flag;
            co_await t;
            co_return !before && !after_yield && flag;
        });
        CHECK(ok);
    }

    TEST_CASE("task<T&> gives a reference to the object the callee returned") {
        int a = 1;
        int b = 2;
        const bool same = weft::run(
            [](int& ra, int& rb) -> weft::task<bool> {
                int& r = co_await pick_again(ra, rb, false);
                const bool is_b = &r == &rb;
                r = 20;
                int& first = co_await pick(ra, rb, true);
                first = 10;
                co_return is_b&&& first == &ra;
            },
            std::ref(a), std::ref(b));
        CHECK(same);
        CHECK(a == 10);
        CHECK(b == 20);
    }

    TEST_CASE("task<const T&> refers to the element, not a copy") {
        const std::vector<std::string> words{"go", "weft", "coroutine", "task"};
        const std::string* address = weft::run(
            [](const std::vector<std::string>& w) -> weft::task<const std::string*> {
                const std::string& best = co_await longest(w);
                co_return &best;
            },
            std::cref(words));
        CHECK(address == &words[2]);
    }

    TEST_CASE("task<void> runs its side effects in await order and propagates exceptions") {
        std::vector<int> order;
        weft::run(
            [](std::vector<int>& out) -> weft::task<> {
                co_await append(out, 1);
                co_await append_after_yield(out, 2);
                co_await append(out, 3);
            },
            std::ref(order));
        CHECK(order == std::vector<int>{1, 2, 3});

        const caught c = weft::run([]() -> weft::task<caught> { co_return co_await catch_from(void_thrower(true)); });
        CHECK(c.threw);
        CHECK(c.what == "void task failed");
        const caught ok = weft::run([]() -> weft::task<caught> { co_return co_await catch_from(void_thrower(false)); });
        CHECK_FALSE(ok.threw);
    }

    TEST_CASE("a move-only result (std::unique_ptr) travels through three levels") {
        std::unique_ptr<int> box = weft::run(forward_box_twice, 41);
        REQUIRE(box != nullptr);
        CHECK(*box == 42);
    }

    TEST_CASE("a move-only, non-default-constructible result is returned") {
        const int v = weft::run([]() -> weft::task<int> {
            only_move m = co_await make_only_move(17);
            co_return m.value();
        });
        CHECK(v == 17);
    }

    TEST_CASE("a task's result object is destroyed exactly once") {
        std::atomic<long> live{0};
        weft::run(
            [](std::atomic<long>& l) -> weft::task<> {
                for (int i = 0; i < 100; ++i) {
                    const weft_test::probe p = co_await make_probe(l);
                    static_cast<void>(p);
                }
            },
            std::ref(live));
        CHECK(live.load() == 0);
    }

    TEST_CASE("a task awaited twice throws std::logic_error") {
        const caught c = weft::run([]() -> weft::task<caught> {
            caught result;
            auto t = level3(1, false);
            const int first = co_await t;
            if (first != 2) co_return result;
            try {
                static_cast<void>(co_await t);
            } catch (const std::logic_error& e) {
                result.threw = true;
                result.what = e.what();
            }
            co_return result;
        });
        CHECK(c.threw);
        CHECK(c.what == "weft: task awaited twice");
    }

    TEST_CASE("a task that threw and is awaited again throws std::logic_error, not the first exception") {
        const caught c = weft::run([]() -> weft::task<caught> {
            caught result;
            auto t = level3(1, true);
            try {
                static_cast<void>(co_await t);
            } catch (const test_error&) {
                result.what = "first";
            }
            if (result.what != "first") co_return result;
            try {
                static_cast<void>(co_await t);
            } catch (const test_error&) {
                result.what = "rethrew the first exception";
            } catch (const std::logic_error& e) {
                result.threw = true;
                result.what = e.what();
            }
            co_return result;
        });
        CHECK(c.threw);
        CHECK(c.what == "weft: task awaited twice");
    }

    TEST_CASE("awaiting a moved-from task throws std::logic_error") {
        struct outcome {
            caught moved_from;
            caught empty;
            bool flags_ok = false;
            int moved_to_value = 0;
        };
        const outcome o = weft::run([]() -> weft::task<outcome> {
            outcome result;
            auto t = level3(21, false);
            auto u = std::move(t);
            result.flags_ok = !t && static_cast<bool>(u);  // NOLINT(bugprone-use-after-move)
            try {
                static_cast<void>(co_await t);  // NOLINT(bugprone-use-after-move)
            } catch (const std::logic_error& e) {
                result.moved_from.threw = true;
                result.moved_from.what = e.what();
            }
            weft::task<int> never_assigned;
            try {
                static_cast<void>(co_await never_assigned);
            } catch (const std::logic_error& e) {
                result.empty.threw = true;
                result.empty.what = e.what();
            }
            result.moved_to_value = co_await u;
            co_return result;
        });
        CHECK(o.flags_ok);
        CHECK(o.moved_from.threw);
        CHECK(o.moved_from.what == "weft: co_await on an empty (moved-from) task");
        CHECK(o.empty.threw);
        CHECK(o.moved_to_value == 42);
    }

    TEST_CASE("a task's locals are destroyed when it returns and when it throws") {
        std::atomic<long> live{0};
        const bool ok = weft::run(
            [](std::atomic<long>& l) -> weft::task<bool> {
                const int v = co_await holds_local(l, false);
                const bool after_return = l.load() == 0 && v == 1;
                bool threw = false;
                try {
                    static_cast<void>(co_await holds_local(l, true));
                } catch (const test_error&) {
                    threw = true;
                }
                co_return after_return&& threw&& l.load() == 0;
            },
            std::ref(live));
        CHECK(ok);
        CHECK(live.load() == 0);
    }

    TEST_CASE("a task destroyed without being awaited destroys its arguments") {
        std::atomic<long> live{0};
        {
            auto t = owns_argument(weft_test::probe{live});
            CHECK(live.load() == 1);  // the copy in the frame
            CHECK(static_cast<bool>(t));
        }
        CHECK(live.load() == 0);
    }

    TEST_CASE("a task moved into another task object keeps one frame") {
        std::atomic<long> live{0};
        const int v = weft::run(
            [](std::atomic<long>& l) -> weft::task<int> {
                auto a = owns_argument(weft_test::probe{l});
                weft::task<int> b;
                b = std::move(a);
                auto c = owns_argument(weft_test::probe{l});
                c = std::move(b);  // destroys c's first frame
                const bool one_left = l.load() == 1;
                const int r = co_await c;
                co_return one_left ? r : -1;
            },
            std::ref(live));
        CHECK(v == 5);
        CHECK(live.load() == 0);
    }

    // The stack tests come last: if symmetric transfer is broken they overflow the stack and end
    // the process, and every other case has already run.
    TEST_CASE("a loop awaiting millions of trivial tasks in a row does not grow the stack") {
        // Symmetric transfer: without it every iteration nests a resume() and the stack overflows
        // long before the end (8 MiB / ~100 bytes a frame is under 100,000 iterations).
        const std::uint64_t n = weft_test::scaled(10'000'000);
        CAPTURE(n);
        const std::uint64_t sum = weft::run(weft::options{.workers = 1}, sum_in_a_row, n);
        CHECK(sum == triangle(n));
    }

    TEST_CASE("a loop awaiting two-level tasks in a row does not grow the stack") {
        const std::uint64_t n = weft_test::scaled(2'000'000);
        CAPTURE(n);
        const std::uint64_t sum = weft::run(weft::options{.workers = 2}, sum_two_levels_in_a_row, n);
        CHECK(sum == triangle(n));
    }

    // Nesting (each level awaiting the next) is only stack-free with true symmetric transfer; with
    // task.hpp's inline-resume fallback (WEFT_INLINE_RESUME: GCC without optimization) each level
    // is an ordinary nested call, like any recursion, so the case is skipped there.
    TEST_CASE("a chain of 100,000 nested co_awaits does not grow the stack" * doctest::skip(WEFT_INLINE_RESUME != 0)) {
        const std::uint64_t depth = weft_test::scaled(100'000, 1000);
        CAPTURE(depth);
        const std::uint64_t result = weft::run(nested_chain, depth);
        CHECK(result == depth);
    }

    TEST_CASE("frames of every size class, and their 16-aligned locals, are 16-aligned") {
        using weft::detail::frame_alloc;
        using weft::detail::frame_free;
        // From 32: every frame holds the resume and destroy pointers and the promise, and
        // frame_free writes the mode byte 24 bytes in.
        for (std::size_t size = 32; size <= 1024; size += 8) {
            std::vector<void*> blocks;
            for (int i = 0; i < 5; ++i)
                blocks.push_back(frame_alloc(size));
            for (void* b : blocks) {
                CHECK(reinterpret_cast<std::uintptr_t>(b) % 16 == 0);
                frame_free(b, size);
            }
        }
        const bool aligned = weft::run(weft::options{.workers = 2}, []() -> weft::task<bool> {
            std::vector<weft::join_handle<std::uintptr_t>> handles;
            for (int i = 0; i < 1000; ++i)
                handles.push_back(weft::spawn(aligned_local_address));
            bool all = true;
            for (auto& h : handles)
                all = all && (co_await h) == 0;
            co_return all;
        });
        CHECK(aligned);
    }
}  // TEST_SUITE("task")
