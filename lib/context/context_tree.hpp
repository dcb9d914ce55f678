// Provides the context tree's nodes (private to lib/context).
//
// Invariants
//   - Every node holds a strong reference to its parent, so ancestors outlive descendants.
//   - `canceller` is the nearest cancellable node at or above this one (null if none);
//     value nodes delegate done/err/cause to it.
//   - A cancel node is linked in its parent canceller's `children` list (under the parent's
//     lock) from creation until it is cancelled, or destroyed, or its parent is cancelled.
//     The list holds no references: a child being destroyed (refs == 0) unlinks itself, and
//     a cancelling parent skips children it cannot take a reference on.
//   - err goes from 0 to canceled/deadline_exceeded once, under `lock`; done is closed right
//     after, once. cause is set together with err.
// Lock order: a node's lock is never held while another node's is taken; a timer's lock may
// be held while trying to take a reference on a node (atomics only).
#pragma once

#include <weft/chan.hpp>
#include <weft/context.hpp>
#include <weft/detail/context_node.hpp>
#include <weft/detail/frame_cache.hpp>
#include <weft/detail/spin_lock.hpp>
#include <weft/detail/timer_state.hpp>

#include <atomic>
#include <chrono>
#include <new>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>

namespace weft::detail {

class cancel_node;

class context_node {
public:
    enum class kind : std::uint8_t { background, cancel, value, without_cancel };

    context_node(kind k, context_ptr parent) noexcept : node_kind(k), parent(std::move(parent)) {}
    context_node(const context_node&) = delete;
    context_node& operator=(const context_node&) = delete;
    virtual ~context_node() = default;

    // Nodes come from the object pool (frame_cache.hpp), not malloc. The virtual destructor
    // passes the most derived type's size to the sized delete.
    static void* operator new(std::size_t size) { return object_alloc(size); }
    static void operator delete(void* node, std::size_t size) noexcept { object_free(node, size); }
    // An over-aligned derived type goes to the general heap (pool blocks are 16-aligned).
    static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
    static void operator delete(void* node, std::size_t size, std::align_val_t align) noexcept {
        ::operator delete(node, size, align);
    }

    void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
    // Takes a reference only if the node is not already being destroyed.
    bool try_add_ref() noexcept {
        std::uint32_t n = refs.load(std::memory_order_relaxed);
        while (n != 0) {
            if (refs.compare_exchange_weak(n, n + 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
        }
        return false;
    }
    void release() noexcept {
        // acq_rel: the last owner sees every other owner's writes before destroying.
        if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    std::atomic<std::uint32_t> refs{1};
    const kind node_kind;
    const context_ptr parent;
    cancel_node* canceller = nullptr;  // set by the constructor of the final type
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::unique_ptr<value_entry_base> entry;  // value nodes only
};

struct context_callback {
    context_callback* prev = nullptr;  // guarded by the node's lock while registered
    context_callback* next = nullptr;
    bool registered = false;  // guarded by the node's lock
    std::function<void()> start;
    std::shared_ptr<context_callback> self;  // the list's ownership while registered
};

class cancel_node final : public context_node {
public:
    explicit cancel_node(context_ptr parent);
    ~cancel_node() override;

    // Cancels this node and every descendant. `remove_from_parent` unlinks this node from
    // its parent canceller (a cancel function's call; not when the parent cancels it).
    void cancel(errc why, std::error_code cause, bool remove_from_parent) noexcept;

    // Links the node under its parent canceller, or cancels it at once if that one is done.
    void attach();
    // Arms the deadline timer (with_deadline).
    void arm_deadline(std::chrono::steady_clock::time_point when);

    std::error_code err() const noexcept;
    std::error_code cause() noexcept;

    // after_func registration: false if the node is already cancelled (run it now).
    bool add_callback(const std::shared_ptr<context_callback>& cb);
    bool remove_callback(context_callback* cb) noexcept;

    chan<unit> done = make_chan<unit>();
    cancel_node* const parent_canceller;

private:
    bool cancel_self(errc why, std::error_code cause, cancel_node*& children, context_callback*& callbacks) noexcept;
    void unlink_child(cancel_node* child) noexcept;

    spin_lock lock_;                         // protects everything below, and the sibling links of its children
    std::atomic<int> err_{0};                // written under lock_, read without it
    std::error_code cause_;                  // guarded by lock_
    cancel_node* children_ = nullptr;        // guarded by lock_
    cancel_node* sibling_prev_ = nullptr;    // guarded by parent_canceller->lock_
    cancel_node* sibling_next_ = nullptr;    // guarded by parent_canceller->lock_
    bool linked_ = false;                    // guarded by parent_canceller->lock_
    cancel_node* cancel_next_ = nullptr;     // work list of cancel(); owned by the canceller
    context_callback* callbacks_ = nullptr;  // guarded by lock_
    timer_state* deadline_timer_ = nullptr;  // set once by arm_deadline, before sharing
};

}  // namespace weft::detail
