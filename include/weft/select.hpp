// Provides weft::select: wait on several channel operations, Go's select statement.
//
//     auto r = co_await weft::select(weft::recv(results), weft::send(out, 7), weft::default_case);
//     switch (r.index()) {
//     case 0: use(std::get<0>(r)); break;   // std::optional<T>: nullopt if `results` closed
//     case 1: break;                        // sent
//     case 2: break;                        // nothing was ready
//     }
//
// Returns std::variant<R0, R1, ...>, one alternative per case in order (std::optional<T> for
// recv, std::monostate for send and default_case), whose index() is the case that fired.
// Semantics are Go's: if several cases are ready, one is chosen uniformly at random; else
// default_case fires if present (at most one, anywhere in the list); else the task parks
// on every case until exactly one completes, and the others are withdrawn with no value
// lost or duplicated. Nil channels' cases are never chosen. A send case on a closed channel
// throws weft::channel_closed, even when default_case is present. `select()` with no cases,
// or with only nil channels and no default, blocks forever (returns void / never resumes).
// The same channel may appear in several cases; a select never receives its own send.
#pragma once

#include <weft/chan.hpp>
#include <weft/detail/select_awaiter.hpp>

namespace weft {

inline constexpr detail::default_case_t default_case{};

template <class T>
detail::recv_op<T> recv(const chan<T>& ch) {
    return detail::recv_op<T>{detail::chan_ref<T>::share(ch.state())};
}
template <class T>
detail::recv_op<T> recv(const recv_chan<T>& ch) {
    return detail::recv_op<T>{detail::chan_ref<T>::share(ch.underlying().state())};
}
template <class T>
detail::send_op<T> send(const chan<T>& ch, std::type_identity_t<T> value) {
    return detail::send_op<T>{detail::chan_ref<T>::share(ch.state()), std::move(value)};
}
template <class T>
detail::send_op<T> send(const send_chan<T>& ch, std::type_identity_t<T> value) {
    return detail::send_op<T>{detail::chan_ref<T>::share(ch.underlying().state()), std::move(value)};
}

template <class... Ops>
[[nodiscard]] detail::select_awaiter<detail::case_of_t<Ops>...> select(Ops... ops) {
    static_assert((detail::is_default_case<Ops>::value + ... + 0) <= 1, "weft::select: at most one default_case");
    static_assert(sizeof...(Ops) <= 255, "weft::select: at most 255 cases");
    return detail::select_awaiter<detail::case_of_t<Ops>...>{std::move(ops)...};
}

[[nodiscard]] inline detail::select_forever select() noexcept {
    return {};
}

namespace detail {
template <class T, class Ctx>
task<recv_result<T>> recv_with(chan<T> ch, Ctx ctx) {
    auto r = co_await weft::select(weft::recv(ch), weft::recv(ctx.done()));
    if (r.index() == 0) co_return recv_result<T>{std::move(std::get<0>(r)), {}};
    co_return recv_result<T>{std::nullopt, ctx.err()};
}
template <class T, class Ctx>
task<std::error_code> send_with(chan<T> ch, T value, Ctx ctx) {
    auto r = co_await weft::select(weft::send(ch, std::move(value)), weft::recv(ctx.done()));
    if (r.index() == 0) co_return std::error_code{};
    co_return ctx.err();
}
}  // namespace detail

}  // namespace weft
