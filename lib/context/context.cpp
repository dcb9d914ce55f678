// Provides the public context API over the tree of lib/context/context_tree.hpp.
#include "context/context_tree.hpp"

#include <weft/context.hpp>

#include <string>

namespace weft {
namespace detail {
namespace {

context_node& background_node() noexcept {
    // Never destroyed: its count starts at 1 and is never released to 0 by anyone.
    static context_node* node = [] {
        auto* n = new context_node(context_node::kind::background, context_ptr{});
        return n;
    }();
    return *node;
}

class error_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "weft"; }
    std::string message(int code) const override {
        switch (static_cast<errc>(code)) {
            case errc::canceled:
                return "context canceled";
            case errc::deadline_exceeded:
                return "context deadline exceeded";
        }
        return "unknown weft error";
    }
};

}  // namespace

context_ptr::context_ptr(const context_ptr& other) noexcept : node_(other.node_) {
    if (node_) node_->add_ref();
}

context_ptr::~context_ptr() {
    if (node_) node_->release();
}

context_ptr make_value_node(const context_ptr& parent, std::unique_ptr<value_entry_base> entry) {
    auto* node = new context_node(context_node::kind::value, parent);
    node->canceller = parent->canceller;
    node->deadline = parent->deadline;
    node->entry = std::move(entry);
    return context_ptr{node};
}

const std::any* find_value(const context_node* from, const std::type_info& key_type, const void* key,
                           bool (*equal)(const void*, const void*)) {
    for (const context_node* n = from; n; n = n->parent.get()) {
        if (n->entry && n->entry->key_type() == key_type && equal(n->entry->key(), key)) return &n->entry->value;
    }
    return nullptr;
}

std::shared_ptr<context_callback> register_callback(const context_ptr& ctx, std::function<void()> start) {
    auto cb = std::make_shared<context_callback>();
    cb->start = std::move(start);
    cancel_node* c = ctx->canceller;
    if (!c) return cb;                      // never done: never runs
    if (!c->add_callback(cb)) cb->start();  // done already: run it now
    return cb;
}

}  // namespace detail

const std::error_category& error_category() noexcept {
    static const detail::error_category_impl category;
    return category;
}

context::context() noexcept : node_(&detail::background_node()) {
    node_->add_ref();
}

context background() noexcept {
    return context{};
}

recv_chan<unit> context::done() const noexcept {
    detail::cancel_node* c = node_->canceller;
    return c ? recv_chan<unit>{c->done} : recv_chan<unit>{};
}

std::error_code context::err() const noexcept {
    detail::cancel_node* c = node_->canceller;
    return c ? c->err() : std::error_code{};
}

std::error_code context::cause() const {
    detail::cancel_node* c = node_->canceller;
    return c ? c->cause() : std::error_code{};
}

std::optional<steady_clock::time_point> context::deadline() const noexcept {
    return node_->deadline;
}

task<std::error_code> context::wait() const {
    context self = *this;  // the task must not refer to the caller's handle
    co_await self.done().recv();
    co_return self.err();
}

void cancel_func::operator()() const noexcept {
    if (node_) static_cast<detail::cancel_node*>(node_.get())->cancel(errc::canceled, {}, true);
}

void cancel_cause_func::operator()(std::error_code cause) const noexcept {
    if (node_) static_cast<detail::cancel_node*>(node_.get())->cancel(errc::canceled, cause, true);
}

namespace {
detail::context_ptr new_cancel_node(const context& parent) {
    auto* node = new detail::cancel_node(parent.node());
    return detail::context_ptr{node};
}
}  // namespace

context_and_cancel<cancel_func> with_cancel(const context& parent) {
    auto node = new_cancel_node(parent);
    static_cast<detail::cancel_node*>(node.get())->attach();
    return {context{node}, cancel_func{node}};
}

context_and_cancel<cancel_cause_func> with_cancel_cause(const context& parent) {
    auto node = new_cancel_node(parent);
    static_cast<detail::cancel_node*>(node.get())->attach();
    return {context{node}, cancel_cause_func{node}};
}

context_and_cancel<cancel_func> with_deadline(const context& parent, steady_clock::time_point deadline) {
    if (auto d = parent.deadline(); d && *d <= deadline) return with_cancel(parent);  // the parent's is sooner
    auto node = new_cancel_node(parent);
    auto* c = static_cast<detail::cancel_node*>(node.get());
    // Arm before linking under the parent: until attach() no other thread can reach the
    // node, so deadline_timer_ is written before any concurrent cancel can read it.
    c->arm_deadline(deadline);
    if (!c->err()) c->attach();
    return {context{node}, cancel_func{node}};
}

context_and_cancel<cancel_func> with_timeout(const context& parent, saturating_duration timeout) {
    return with_deadline(parent, detail::deadline_after(timeout.get()));
}

context without_cancel(const context& parent) {
    auto* node = new detail::context_node(detail::context_node::kind::without_cancel, parent.node());
    node->canceller = nullptr;
    node->deadline = std::nullopt;
    return context{detail::context_ptr{node}};
}

bool after_func_handle::stop() noexcept {
    if (!registration_ || !node_ || !node_->canceller) return false;
    return node_->canceller->remove_callback(registration_.get());
}

task<std::error_code> sleep_for(saturating_duration d, context ctx) {
    if (!ctx.done().underlying().state()) {
        co_await sleep_for(d);
        co_return std::error_code{};
    }
    if (auto e = ctx.err()) co_return e;
    timer t(d);
    auto r = co_await select(recv(ctx.done()), recv(t.c()));
    if (r.index() == 0) co_return ctx.err();
    co_return std::error_code{};
}

}  // namespace weft
