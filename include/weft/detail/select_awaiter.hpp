// Provides select_awaiter: the awaiter of weft::select (Go's selectgo; the protocol and its
// invariants are in docs/design/channels.md).
//
//   1. Lock every distinct non-nil channel of the select, in address order.
//   2. Poll the cases in a uniformly random order; the first that can complete now does,
//      and the select returns it (after unlocking).
//   3. None can: a default_case fires if present.
//   4. Otherwise queue one node per case (all sharing one select_arbiter), unlock from a
//      copy of the lock list on the stack (after the last unlock the task may already be
//      running elsewhere), and park.
//   5. The first counterpart to claim a node wins the arbiter, completes that case under
//      its channel's lock, and schedules the task. Counterparts that find a node whose
//      select was already won unlink it and skip it.
//   6. On resumption, lock the losing cases' channels and withdraw their nodes still queued.
#pragma once

#include <weft/detail/chan_state.hpp>
#include <weft/detail/select_cases.hpp>

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>
#include <variant>

namespace weft::detail {

template <class... Cases>
class select_awaiter {
    static constexpr std::size_t count = sizeof...(Cases);
    static constexpr bool has_default = (is_default_case<Cases>::value || ...);
    static constexpr std::size_t default_index = [] {
        constexpr bool is_default[] = {is_default_case<Cases>::value...};
        for (std::size_t i = 0; i < count; ++i)
            if (is_default[i]) return i;
        return count;
    }();

public:
    using result_type = std::variant<typename Cases::result_type...>;

    template <class... Ops>
    explicit select_awaiter(Ops&&... ops) : cases_(std::forward<Ops>(ops)...) {}
    // Only before it is awaited: moving a parked select would strand its nodes.
    select_awaiter(select_awaiter&&) = default;
    select_awaiter(const select_awaiter&) = delete;
    ~select_awaiter() {
        if (!parked_) return;  // never parked, or already resumed
        channel_list locks;    // destroyed while parked (shutdown): withdraw every node
        const std::size_t n = sorted_channels(locks);
        lock_all(locks, n);
        for_each_index([&](auto& c) {
            if constexpr (!is_default_case<std::remove_cvref_t<decltype(c)>>::value) {
                if (c.channel()) c.withdraw();
            }
        });
        unlock_all(locks, n);
    }

    bool await_ready() {
        channel_list locks;
        const std::size_t n = sorted_channels(locks);
        if (n == 0) {
            if constexpr (has_default) {
                fired_ = static_cast<std::uint8_t>(default_index);
                return true;
            }
            return false;  // only nil channels: block forever
        }
        lock_all(locks, n);
        for (std::size_t i = 0; i < count; ++i)
            order_[i] = static_cast<std::uint8_t>(i);
        for (std::size_t i = count - 1; i > 0; --i)
            std::swap(order_[i], order_[fast_random() % (i + 1)]);
        for (std::size_t k = 0; k < count; ++k) {
            chan_waiter* wake = nullptr;
            if (try_case(order_[k], &wake)) {
                fired_ = order_[k];
                unlock_all(locks, n);
                if (wake) wake_one(wake);
                return true;
            }
        }
        if constexpr (has_default) {
            fired_ = static_cast<std::uint8_t>(default_index);
            unlock_all(locks, n);
            return true;
        }
        return false;  // the locks stay held until await_suspend
    }

    bool await_suspend(std::coroutine_handle<> self) noexcept {
        channel_list locks;  // on our stack: the awaiter may vanish at any unlock below
        const std::size_t n = sorted_channels(locks);
        if (n == 0) return true;  // parked forever; destroyed at shutdown
        arbiter_.task = self;
        // Queue in the random poll order: two cases on one channel are then served in a
        // random order too (Go's TestPseudoRandomSend).
        for (std::size_t k = 0; k < count; ++k) {
            const std::size_t target = order_[k];
            std::uint8_t index = 0;
            for_each_index([&](auto& c) {
                if constexpr (!is_default_case<std::remove_cvref_t<decltype(c)>>::value) {
                    if (index == target && c.channel()) c.enqueue(&arbiter_, index);
                }
                ++index;
            });
        }
        parked_ = true;
        unlock_all(locks, n);
        return true;
    }

    result_type await_resume() {
        if (parked_) {
            fired_ = static_cast<std::uint8_t>(arbiter_.winner());
            // Only the losers' channels: the counterpart that claimed the winner unlinked its
            // node and filled it under that channel's lock before scheduling us, and the
            // scheduler's hand-off orders those writes before this resumption.
            channel_list locks;
            const std::size_t n = sorted_channels_but<true>(locks, fired_);
            lock_all(locks, n);
            std::size_t index = 0;
            for_each_index([&](auto& c) {
                if constexpr (!is_default_case<std::remove_cvref_t<decltype(c)>>::value) {
                    if (index != fired_ && c.channel()) c.withdraw();
                }
                ++index;
            });
            unlock_all(locks, n);
            parked_ = false;
            send_closed_ = closed_send(fired_);
        }
        if (send_closed_) throw_send_on_closed();
        return make_result<0>(fired_);
    }

private:
    // Calls f on every case in order. A fold over an index sequence rather than std::apply:
    // the helper layers of std::apply were left as calls (clang -O3), one per select phase.
    template <class F>
    [[gnu::always_inline]] void for_each_index(F&& f) {
        [&]<std::size_t... I>(std::index_sequence<I...>) __attribute__((always_inline)) {
            (f(std::get<I>(cases_)), ...);
        }(std::make_index_sequence<count>{});
    }

    using channel_list = std::array<chan_base*, count>;

    // The distinct non-nil channels, in address order (the global lock order); with
    // Skipping, leaving out the case at `skip` (a channel it shares with another case stays).
    std::size_t sorted_channels(channel_list& out) noexcept { return sorted_channels_but<false>(out, 0); }
    template <bool Skipping>
    std::size_t sorted_channels_but(channel_list& out, std::size_t skip) noexcept {
        std::size_t n = 0;
        std::size_t index = 0;
        for_each_index([&](auto& c) {
            chan_base* ch = c.channel();
            if constexpr (Skipping) {
                if (index++ == skip) return;
            }
            if (!ch) return;
            std::size_t pos = 0;
            while (pos < n && out[pos] < ch)
                ++pos;
            if (pos < n && out[pos] == ch) return;  // the same channel twice
            for (std::size_t k = n; k > pos; --k)
                out[k] = out[k - 1];
            out[pos] = ch;
            ++n;
        });
        return n;
    }
    static void lock_all(const channel_list& locks, std::size_t n) noexcept {
        for (std::size_t k = 0; k < n; ++k)
            locks[k]->lock.lock();
    }
    static void unlock_all(const channel_list& locks, std::size_t n) noexcept {
        for (std::size_t k = 0; k < n; ++k)
            locks[k]->lock.unlock();
    }

    bool try_case(std::size_t target, chan_waiter** wake) {
        bool done = false;
        std::size_t index = 0;
        for_each_index([&](auto& c) {
            if constexpr (!is_default_case<std::remove_cvref_t<decltype(c)>>::value) {
                if (index == target && c.channel()) done = c.try_now(wake, send_closed_);
            }
            ++index;
        });
        return done;
    }
    bool closed_send(std::size_t target) {
        bool closed = false;
        std::size_t index = 0;
        for_each_index([&](auto& c) {
            if constexpr (!is_default_case<std::remove_cvref_t<decltype(c)>>::value) {
                if (index == target) closed = c.closed_send();
            }
            ++index;
        });
        return closed;
    }

    template <std::size_t I>
    result_type result_at() {
        auto& c = std::get<I>(cases_);
        if constexpr (is_default_case<std::remove_cvref_t<decltype(c)>>::value) {
            return result_type{std::in_place_index<I>};
        } else {
            return result_type{std::in_place_index<I>, c.take()};
        }
    }
    template <std::size_t I>
    result_type make_result(std::size_t fired) {
        if constexpr (I + 1 == count) {
            return result_at<I>();
        } else {
            if (fired == I) return result_at<I>();
            return make_result<I + 1>(fired);
        }
    }

    // First: each case's node finds it at a fixed offset back from itself (chan_waiter).
    select_arbiter arbiter_;
    std::array<std::uint8_t, count> order_{};  // this select's random poll order
    std::uint8_t fired_ = 0;                   // the case that completed
    bool parked_ = false;                      // nodes are (or may be) queued
    bool send_closed_ = false;                 // the fired case was a send on a closed channel
    std::tuple<Cases...> cases_;
};

// `select()` with no cases: parks forever (destroyed at shutdown).
struct select_forever {
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<>) const noexcept { return true; }
    void await_resume() const noexcept {}
};

}  // namespace weft::detail
