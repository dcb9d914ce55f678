// Provides the shared state behind every chan<T> handle: the lock, the ring buffer, the
// queues of parked senders and receivers, and the claim protocol used by select.
// The design, its invariants and the select protocol are in docs/design/channels.md.
//
// Invariants (all under `lock`)
//   - At least one of sendq and recvq is empty, except transiently inside a select that is
//     registering on both sides of one channel (its own nodes never match each other).
//   - sendq is non-empty only if the buffer is full (count == capacity).
//   - recvq is non-empty only if the buffer is empty.
//   - Once `closed`, both queues are empty and stay empty.
//   - A queued waiter's frame is suspended; it is resumed only by the one thread that
//     unlinked it with a successful claim (close, or the matching operation).
#pragma once

#include <weft/detail/frame_cache.hpp>
#include <weft/detail/spin_lock.hpp>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft::detail {

// The shared fate of a select's waiters: the first operation to claim one of them wins the
// whole select; the others are skipped and later withdrawn by the select itself.
class select_arbiter {
public:
    bool try_claim(std::uint32_t case_index) noexcept {
        std::int32_t expected = -1;
        // acq_rel: the winner's later writes (the value) are ordered after the claim; the
        // selecting task learns the winner only after being scheduled (happens-before).
        return winner_.compare_exchange_strong(expected, static_cast<std::int32_t>(case_index),
                                               std::memory_order_acq_rel, std::memory_order_acquire);
    }
    std::int32_t winner() const noexcept { return winner_.load(std::memory_order_acquire); }

    std::coroutine_handle<> task;  // the selecting task; set before any node is queued

private:
    std::atomic<std::int32_t> winner_{-1};  // -1 until claimed; written once by the claimer
};

enum class waiter_state : std::uint8_t {
    idle,    // not in any queue
    queued,  // in a channel queue
    done,    // completed by a counterpart: value delivered or taken
    closed,  // completed by close()
};

// An intrusive node in a channel's sendq or recvq, living in the parked task's frame
// (32 bytes). The value travels in the slot of the chan_slot_waiter that contains it.
struct chan_waiter {
    chan_waiter* prev = nullptr;  // guarded by the channel's lock while queued
    chan_waiter* next = nullptr;  // ditto; close() reuses it to chain the wake-up list
    // A plain waiter's task frame. A select case's node: the channel the case is on (the
    // case's counted reference); its select_arbiter is found by arbiter_offset instead.
    void* owner = nullptr;
    std::uint32_t arbiter_offset = 0;         // select node: bytes from its arbiter to this node
    std::uint8_t case_index = 0;              // the select case this node stands for
    waiter_state state = waiter_state::idle;  // guarded by the channel's lock
    bool in_select = false;

    void set_task(std::coroutine_handle<> task) noexcept {
        owner = task.address();
        in_select = false;
    }
    // `arbiter` precedes the node in the same select awaiter (it is the awaiter's first member).
    void set_select(select_arbiter* arbiter, std::uint8_t index) noexcept {
        arbiter_offset = static_cast<std::uint32_t>(reinterpret_cast<char*>(this) - reinterpret_cast<char*>(arbiter));
        case_index = index;
        in_select = true;
    }
    select_arbiter* arbiter() noexcept {
        return in_select ? reinterpret_cast<select_arbiter*>(reinterpret_cast<char*>(this) - arbiter_offset) : nullptr;
    }
    std::coroutine_handle<> task() noexcept {
        return in_select ? arbiter()->task : std::coroutine_handle<>::from_address(owner);
    }
};

// A waiter with its value: the value to send (V = T), or the place a received value goes
// (V = std::optional<T>).
template <class V>
struct chan_slot_waiter : chan_waiter {
    template <class... Args>
    explicit chan_slot_waiter(Args&&... args) : slot(std::forward<Args>(args)...) {}
    V slot;
};

class waiter_queue {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    void push_back(chan_waiter* w) noexcept;
    void remove(chan_waiter* w) noexcept;
    // Unlinks and returns the first waiter that may complete now: a plain waiter, or a select
    // waiter whose select this call claims. Select waiters that lost are unlinked and skipped.
    chan_waiter* pop_claimable() noexcept;

private:
    chan_waiter* head_ = nullptr;
    chan_waiter* tail_ = nullptr;
};

// The fields every send and receive touches (lock, count, ring position, buffer, capacity
// and the heads of both waiter queues) share the state's first cache line, so an operation
// moves one line between cores, not two.
class alignas(64) chan_base {
public:
    explicit chan_base(std::size_t capacity) noexcept : capacity_(capacity) {}
    chan_base(const chan_base&) = delete;
    chan_base& operator=(const chan_base&) = delete;

    // States come from the object pool (frame_cache.hpp), not malloc: a program that makes a
    // channel per request or per task (Go's habit) pays a few instructions for it. Only the
    // sized form exists, so deleting a chan_state<T> passes its own size.
    static void* operator new(std::size_t size, std::align_val_t) { return object_alloc(size); }
    static void operator delete(void* state, std::size_t size, std::align_val_t) noexcept {
        object_free(state, size);
    }

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    // True when this was the last reference (the caller deletes the state).
    bool drop_ref() noexcept {
        // acq_rel: the last owner sees every other owner's writes before destroying.
        return refs_.fetch_sub(1, std::memory_order_acq_rel) == 1;
    }

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t size() noexcept;

    // Closes the channel (throws channel_closed if it already is) and wakes every parked
    // sender and receiver. Call without the lock.
    void close();

    spin_lock lock;         // protects everything below but capacity_ and refs_; order: by address (select)
    bool closed = false;    // guarded by lock
    std::size_t count = 0;  // guarded by lock: values in the buffer

protected:
    std::size_t head_ = 0;    // guarded by lock: ring index of the oldest buffered value
    void* buffer_ = nullptr;  // ring of `capacity` raw slots (chan_state<T> owns it)

private:
    const std::size_t capacity_;

public:
    waiter_queue recvq;  // guarded by lock
    waiter_queue sendq;  // guarded by lock

private:
    std::atomic<std::size_t> refs_{1};  // handles (chan, views, select cases, parked awaiters)
};

// Schedules each waiter of a list chained by `next` (after the channel lock is released).
void wake_list(chan_waiter* list) noexcept;
// Schedules one completed waiter (after the channel lock is released).
void wake_one(chan_waiter* w) noexcept;

[[noreturn]] void throw_send_on_closed();
[[noreturn]] void throw_close_of_nil();
// A fast per-thread random number (select's poll order): xorshift64*, seeded per thread
// from its state's address.
inline constinit thread_local std::uint64_t t_fast_random_state = 0;
inline std::uint32_t fast_random() noexcept {
    std::uint64_t x = t_fast_random_state;
    if (x == 0) [[unlikely]]
        x = reinterpret_cast<std::uintptr_t>(&t_fast_random_state) | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t_fast_random_state = x;
    return static_cast<std::uint32_t>((x * 0x2545F4914F6CDD1DULL) >> 32);
}

enum class send_status : std::uint8_t { sent, would_block, closed };

// Element types with no state are counted, not stored.
template <class T>
inline constexpr bool counted_only = std::is_empty_v<T> && std::is_trivially_default_constructible_v<T>;

template <class T>
class chan_state final : public chan_base {
    static_assert(alignof(chan_base) == object_alignment);  // so every object block is aligned

public:
    explicit chan_state(std::size_t capacity) : chan_base(capacity) {
        if constexpr (!counted_only<T>) {
            if (capacity) buffer_ = ::operator new(capacity * sizeof(T), std::align_val_t{alignof(T)});
        }
    }
    ~chan_state() {
        if constexpr (!counted_only<T>) {
            for (std::size_t i = 0; i < count; ++i)
                slots()[(head_ + i) % capacity()].~T();  // cold path
            if (buffer_) ::operator delete(buffer_, std::align_val_t{alignof(T)});
        }
    }

    static void release(chan_state* state) noexcept {
        if (state && state->drop_ref()) delete state;
    }

    // Lock held. Completes a receive now if it can: true, with `out` holding the value (or
    // empty: closed and drained). `*wake` is set to a sender to schedule after unlocking.
    bool try_recv_locked(std::optional<T>& out, chan_waiter** wake) {
        if (chan_waiter* sender = sendq.pop_claimable()) {
            T& sent = static_cast<chan_slot_waiter<T>*>(sender)->slot;
            if (capacity() == 0) {
                out.emplace(std::move(sent));
            } else {  // buffer full: take its head, the sender's value goes to its tail
                out.emplace(pop_buffer());
                push_buffer(std::move(sent));
            }
            sender->state = waiter_state::done;
            *wake = sender;
            return true;
        }
        if (count > 0) {
            out.emplace(pop_buffer());
            return true;
        }
        if (closed) {
            out.reset();
            return true;
        }
        return false;
    }

    // Lock held. Completes a send now if it can. On `sent`, `value` was moved from and
    // `*wake` may name a receiver to schedule after unlocking.
    send_status try_send_locked(T& value, chan_waiter** wake) {
        if (closed) return send_status::closed;
        if (chan_waiter* receiver = recvq.pop_claimable()) {
            static_cast<chan_slot_waiter<std::optional<T>>*>(receiver)->slot.emplace(std::move(value));
            receiver->state = waiter_state::done;
            *wake = receiver;
            return send_status::sent;
        }
        if (count < capacity()) {
            push_buffer(std::move(value));
            return send_status::sent;
        }
        return send_status::would_block;
    }

private:
    void push_buffer(T&& value) {
        if constexpr (!counted_only<T>) {
            std::size_t index = head_ + count;  // no division: head_ < capacity, count <= capacity
            if (index >= capacity()) index -= capacity();
            ::new (static_cast<void*>(slots() + index)) T(std::move(value));
        }
        ++count;
    }
    T pop_buffer() {
        --count;
        if constexpr (counted_only<T>) {
            return T{};
        } else {
            T& slot = slots()[head_];
            if (++head_ == capacity()) head_ = 0;
            T value(std::move(slot));
            slot.~T();
            return value;
        }
    }

    // The ring of `capacity` raw slots (none for counted_only types).
    T* slots() const noexcept { return static_cast<T*>(buffer_); }
};

// An owning pointer to a chan_state (intrusive reference count).
template <class T>
class chan_ref {
public:
    chan_ref() noexcept = default;
    explicit chan_ref(chan_state<T>* adopted) noexcept : state_(adopted) {}
    // A new reference to `state` (null: the nil channel).
    static chan_ref share(chan_state<T>* state) noexcept {
        if (state) state->add_ref();
        return chan_ref{state};
    }
    chan_ref(const chan_ref& other) noexcept : state_(other.state_) {
        if (state_) state_->add_ref();
    }
    chan_ref(chan_ref&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    chan_ref& operator=(chan_ref other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~chan_ref() { chan_state<T>::release(state_); }
    chan_state<T>* get() const noexcept { return state_; }
    // Gives up the reference without dropping it: the caller now owns it.
    chan_state<T>* release() noexcept { return std::exchange(state_, nullptr); }

private:
    chan_state<T>* state_ = nullptr;
};

}  // namespace weft::detail
