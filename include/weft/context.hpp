// Provides Go's context package: cancellation trees with deadlines and values, and the
// context-aware waits (sleep_for(d, ctx), ch.recv(ctx), ch.send(v, ctx), ctx.wait()).
//
//     auto [ctx, cancel] = weft::with_timeout(weft::background(), 200ms);
//     auto r = co_await weft::select(weft::recv(results), weft::recv(ctx.done()));
//     if (r.index() == 1) std::puts(ctx.err().message().c_str());  // "context deadline exceeded"
//
// Go's rules hold: cancelling a parent cancels every descendant before cancel() returns
// (err() set, done() closed; parked tasks wake right after); a child's cancel detaches it
// from its parent, and so does dropping every handle to it (a long-lived parent does not
// grow with short-lived children); deriving from a cancelled parent gives a cancelled
// child; a child's deadline is never later than its parent's; cancel is idempotent,
// thread-safe, and the first cause wins. Contexts are cheap copyable handles, usable from
// any thread. Timeouts need a running runtime (std::logic_error otherwise).
#pragma once

#include <weft/chan.hpp>
#include <weft/detail/context_node.hpp>
#include <weft/select.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>

#include <any>
#include <chrono>
#include <functional>
#include <optional>
#include <system_error>
#include <typeinfo>
#include <utility>

namespace weft {

// Why a context ended (Go's context.Canceled and context.DeadlineExceeded).
enum class errc { canceled = 1, deadline_exceeded = 2 };
const std::error_category& error_category() noexcept;  // name "weft"
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

class context {
public:
    context() noexcept;  // background()

    // Closed when the context is cancelled; nil for a context that can never be cancelled
    // (background, without_cancel), so its select cases are never chosen.
    recv_chan<unit> done() const noexcept;
    // Empty until cancelled; then errc::canceled or errc::deadline_exceeded.
    std::error_code err() const noexcept;
    // The first cause given to a cancel_cause_func, else err().
    std::error_code cause() const;
    // The earliest deadline of this context and its ancestors, if any.
    std::optional<steady_clock::time_point> deadline() const noexcept;

    // The value bound to `key` by the nearest with_value, if it is a T.
    template <class T, class K>
    std::optional<T> value(const K& key) const {
        const std::any* found = detail::find_value(node_.get(), typeid(K), &key, [](const void* a, const void* b) {
            return *static_cast<const K*>(a) == *static_cast<const K*>(b);
        });
        if (!found) return std::nullopt;
        if (const T* v = std::any_cast<T>(found)) return *v;
        return std::nullopt;
    }

    // Completes when the context is cancelled (never for one that cannot be); gives err().
    task<std::error_code> wait() const;

    // Go's context.AfterFunc (see weft::after_func(ctx, f)).
    template <class F>
    auto after_func(F&& f) const;

    friend bool operator==(const context& a, const context& b) noexcept { return a.node_ == b.node_; }

    explicit context(detail::context_ptr node) noexcept : node_(std::move(node)) {}
    const detail::context_ptr& node() const noexcept { return node_; }  // for weft's own use

private:
    detail::context_ptr node_;
};

// Cancels its context (and all descendants) with errc::canceled; idempotent; any thread.
class cancel_func {
public:
    cancel_func() noexcept = default;
    explicit cancel_func(detail::context_ptr node) noexcept : node_(std::move(node)) {}
    void operator()() const noexcept;

private:
    detail::context_ptr node_;
};

// Cancels with a cause (with_cancel_cause); err() is errc::canceled, cause() the first cause.
class cancel_cause_func {
public:
    cancel_cause_func() noexcept = default;
    explicit cancel_cause_func(detail::context_ptr node) noexcept : node_(std::move(node)) {}
    void operator()(std::error_code cause) const noexcept;

private:
    detail::context_ptr node_;
};

template <class Cancel>
struct context_and_cancel {
    context ctx;
    Cancel cancel;
};

context background() noexcept;
context_and_cancel<cancel_func> with_cancel(const context& parent);
context_and_cancel<cancel_cause_func> with_cancel_cause(const context& parent);
context_and_cancel<cancel_func> with_deadline(const context& parent, steady_clock::time_point deadline);
context_and_cancel<cancel_func> with_timeout(const context& parent, saturating_duration timeout);
// Values of `parent`, but never cancelled (done() is nil) and no deadline (Go's WithoutCancel).
context without_cancel(const context& parent);
// A child carrying `value` under `key` (any copyable, equality-comparable type; a pointer to a
// static object is the usual key).
template <class K, class V>
context with_value(const context& parent, K key, V value) {
    return context{detail::make_value_node(
        parent.node(), std::make_unique<detail::value_entry<K>>(std::move(key), std::any(std::move(value))))};
}

// The handle of a context after_func: stop() prevents the call if it has not started.
class after_func_handle {
public:
    after_func_handle() noexcept = default;
    after_func_handle(std::shared_ptr<detail::context_callback> registration, detail::context_ptr node) noexcept
        : registration_(std::move(registration)), node_(std::move(node)) {}
    // True if this call prevented f from running.
    bool stop() noexcept;

private:
    std::shared_ptr<detail::context_callback> registration_;
    detail::context_ptr node_;  // keeps the context alive for stop()
};

// Go's context.AfterFunc: runs f() as a new task once ctx is done (at once if it already
// is). f may return a task or not.
template <class F>
after_func_handle after_func(const context& ctx, F&& f) {
    std::function<void()> start;
    if constexpr (detail::task_callable<F>) {
        start = [fn = std::decay_t<F>(std::forward<F>(f))]() { go(fn); };
    } else {
        start = [fn = std::decay_t<F>(std::forward<F>(f))]() {
            go(
                [](std::decay_t<F> g) -> task<> {
                    std::invoke(std::move(g));
                    co_return;
                },
                fn);
        };
    }
    return after_func_handle{detail::register_callback(ctx.node(), std::move(start)), ctx.node()};
}

template <class F>
auto context::after_func(F&& f) const {
    return weft::after_func(*this, std::forward<F>(f));
}

// Sleeps for `d` unless ctx ends first: returns ctx.err() then, else an empty code.
task<std::error_code> sleep_for(saturating_duration d, context ctx);

}  // namespace weft

template <>
struct std::is_error_code_enum<weft::errc> : std::true_type {};
