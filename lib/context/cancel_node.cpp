// Provides cancellable contexts: linking into the tree, cancellation, deadlines, callbacks.
//
// Cancelling (cancel_node::cancel), as numbered steps:
//   1. Under the node's lock: if err is set, stop (the first cause wins). Else set err and
//      cause, unlink every child from the list, taking a reference on each one that is not
//      being destroyed, and take the pending callbacks.
//   2. Unlocked: close `done` (every parked receiver is handed to the scheduler in one
//      pass over the channel's queue), stop the deadline timer, start the callbacks.
//   3. Repeat 1-2 for the children taken, depth first with an explicit work list (no
//      recursion, whatever the depth), passing this node's cause.
//   4. If asked (the node's own cancel function), unlink the node from its parent.
// Every descendant's err is set and done closed before cancel returns, as in Go.
#include "context/context_tree.hpp"

#include <mutex>

namespace weft::detail {
namespace {

// A deadline timer cancels its node with deadline_exceeded.
class deadline_timer final : public timer_state {
public:
    explicit deadline_timer(cancel_node* node) noexcept : node_(node) {}

private:
    bool expire_locked(std::chrono::steady_clock::time_point) noexcept override {
        // Under the timer lock: the node's destructor stops this timer under the same lock
        // first, so the node is alive here; take a reference unless it is being destroyed.
        grabbed_ = node_->try_add_ref();
        return grabbed_;
    }
    void expire_unlocked() noexcept override {
        node_->cancel(errc::deadline_exceeded, {}, true);
        grabbed_ = false;
        node_->release();
    }
    cancel_node* node_;
    bool grabbed_ = false;
};

}  // namespace

cancel_node::cancel_node(context_ptr parent_ptr)
    : context_node(kind::cancel, std::move(parent_ptr)), parent_canceller(parent ? parent->canceller : nullptr) {
    canceller = this;
    deadline = parent ? parent->deadline : std::nullopt;
}

cancel_node::~cancel_node() {
    if (deadline_timer_) {
        deadline_timer_->stop();
        deadline_timer_->release();
    }
    if (parent_canceller) parent_canceller->unlink_child(this);
    for (context_callback* cb = callbacks_; cb;) {  // never run: nobody can cancel us now
        context_callback* next = cb->next;
        cb->registered = false;
        cb->self.reset();
        cb = next;
    }
}

void cancel_node::attach() {
    cancel_node* p = parent_canceller;
    if (!p) return;
    {
        std::lock_guard guard(p->lock_);
        if (p->err_.load(std::memory_order_relaxed) == 0) {
            sibling_prev_ = nullptr;
            sibling_next_ = p->children_;
            if (p->children_) p->children_->sibling_prev_ = this;
            p->children_ = this;
            linked_ = true;
            return;
        }
    }
    // The parent is done already: so is the child, with the parent's reason and cause.
    cancel(static_cast<errc>(p->err_.load(std::memory_order_acquire)), p->cause(), false);
}

void cancel_node::unlink_child(cancel_node* child) noexcept {
    std::lock_guard guard(lock_);
    if (!child->linked_) return;
    if (child->sibling_prev_) {
        child->sibling_prev_->sibling_next_ = child->sibling_next_;
    } else {
        children_ = child->sibling_next_;
    }
    if (child->sibling_next_) child->sibling_next_->sibling_prev_ = child->sibling_prev_;
    child->sibling_prev_ = child->sibling_next_ = nullptr;
    child->linked_ = false;
}

void cancel_node::arm_deadline(std::chrono::steady_clock::time_point when) {
    deadline = deadline && *deadline < when ? *deadline : when;
    if (when <= std::chrono::steady_clock::now()) {
        cancel(errc::deadline_exceeded, {}, true);
        return;
    }
    deadline_timer_ = new deadline_timer(this);
    if (!deadline_timer_->start(when)) {
        deadline_timer_->release();
        deadline_timer_ = nullptr;
        throw std::logic_error("weft::with_deadline: no runtime is running (call it inside weft::run)");
    }
}

bool cancel_node::cancel_self(errc why, std::error_code cause, cancel_node*& children,
                              context_callback*& callbacks) noexcept {
    std::lock_guard guard(lock_);
    if (err_.load(std::memory_order_relaxed) != 0) return false;
    cause_ = cause ? cause : make_error_code(why);
    // release: pairs with err()'s acquire; whoever sees err set sees the cause too.
    err_.store(static_cast<int>(why), std::memory_order_release);
    for (cancel_node* c = children_; c;) {
        cancel_node* next = c->sibling_next_;
        c->linked_ = false;
        c->sibling_prev_ = c->sibling_next_ = nullptr;
        if (c->try_add_ref()) {  // a child at refs == 0 is being destroyed: leave it be
            c->cancel_next_ = children;
            children = c;
        }
        c = next;
    }
    children_ = nullptr;
    callbacks = callbacks_;
    callbacks_ = nullptr;
    for (context_callback* cb = callbacks; cb; cb = cb->next)
        cb->registered = false;
    return true;
}

void cancel_node::cancel(errc why, std::error_code cause, bool remove_from_parent) noexcept {
    cancel_node* work = nullptr;  // nodes to cancel, each holding a reference we took
    cancel_node* node = this;
    bool owned = false;  // whether `node` holds a reference we must release
    for (;;) {
        cancel_node* children = nullptr;
        context_callback* callbacks = nullptr;
        if (node->cancel_self(why, cause, children, callbacks)) {
            try {
                node->done.close();
            } catch (...) {
                // Closed only here, once: unreachable.
            }
            if (node->deadline_timer_) node->deadline_timer_->stop();
            while (callbacks) {
                context_callback* next = callbacks->next;
                std::shared_ptr<context_callback> keep = std::move(callbacks->self);
                try {
                    keep->start();
                } catch (...) {
                    // go() throws only without a runtime; nothing to start then.
                }
                callbacks = next;
            }
            while (children) {
                cancel_node* next = children->cancel_next_;
                children->cancel_next_ = work;
                work = children;
                children = next;
            }
        }
        if (node == this && remove_from_parent && parent_canceller) parent_canceller->unlink_child(this);
        if (owned) node->release();
        if (!work) break;
        node = work;
        work = work->cancel_next_;
        owned = true;
        // Descendants carry the cause of the node that cancelled them (Go's Cause(parent)).
        cause = node->parent_canceller ? node->parent_canceller->cause() : cause;
    }
}

std::error_code cancel_node::err() const noexcept {
    const int e = err_.load(std::memory_order_acquire);
    return e ? make_error_code(static_cast<errc>(e)) : std::error_code{};
}

std::error_code cancel_node::cause() noexcept {
    if (err_.load(std::memory_order_acquire) == 0) return {};
    std::lock_guard guard(lock_);
    return cause_;
}

bool cancel_node::add_callback(const std::shared_ptr<context_callback>& cb) {
    std::lock_guard guard(lock_);
    if (err_.load(std::memory_order_relaxed) != 0) return false;
    cb->prev = nullptr;
    cb->next = callbacks_;
    if (callbacks_) callbacks_->prev = cb.get();
    callbacks_ = cb.get();
    cb->registered = true;
    cb->self = cb;
    return true;
}

bool cancel_node::remove_callback(context_callback* cb) noexcept {
    std::shared_ptr<context_callback> drop;  // released after the lock
    std::lock_guard guard(lock_);
    if (!cb->registered) return false;
    if (cb->prev) {
        cb->prev->next = cb->next;
    } else {
        callbacks_ = cb->next;
    }
    if (cb->next) cb->next->prev = cb->prev;
    cb->registered = false;
    drop = std::move(cb->self);
    return true;
}

}  // namespace weft::detail
