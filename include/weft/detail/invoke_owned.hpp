// Provides make_owned_task: turns `f, args...` into a task whose own frame owns decay-copies of
// f and args, the rule behind go(), spawn() and wait_group::go().
//
// When f is a plain function whose parameters are all values of exactly the argument types
// (or references chosen with std::ref), calling it directly already copies every argument
// into the new frame, so no second frame is needed. Anything else (lambdas with captures,
// converting or `const&` parameters, views) goes through invoke_owned, a small wrapper frame
// that holds the copies and awaits f's task. Either way nothing in the task refers to the
// caller's temporaries.
#pragma once

#include <weft/task.hpp>

#include <functional>
#include <type_traits>
#include <utility>

namespace weft::detail {

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};

template <class T>
struct is_reference_wrapper : std::false_type {};
template <class T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

// The task type f returns when called with rvalue copies of args.
template <class F, class... Args>
using owned_result_t = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;

template <class F, class... Args>
concept task_callable =
    std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> && is_task<owned_result_t<F, Args...>>::value;

// A parameter that holds its own copy of the argument (same type, by value), or a reference
// the caller asked for explicitly with std::ref.
template <class Param, class Arg>
inline constexpr bool param_owns_arg =
    (!std::is_reference_v<Param> && std::is_same_v<std::remove_cv_t<Param>, std::decay_t<Arg>>) ||
    (!std::is_reference_v<Param> && std::is_arithmetic_v<Param> && std::is_arithmetic_v<std::decay_t<Arg>>) ||
    (std::is_lvalue_reference_v<Param> && is_reference_wrapper<std::decay_t<Arg>>::value);

template <class F, class... Args>
struct direct_call : std::false_type {};
template <class R, class... Params, class... Args>
requires(sizeof...(Params) == sizeof...(Args)) struct direct_call<R (*)(Params...), Args...>
    : std::bool_constant<(param_owns_arg<Params, Args> && ...)> {
};

template <class F, class... Args>
owned_result_t<F, Args...> invoke_owned(F f, Args... args) {
    co_return co_await std::invoke(std::move(f), std::move(args)...);
}

template <class F, class... Args>
auto make_owned_task(F&& f, Args&&... args) {
    using result = owned_result_t<F, Args...>;
    if constexpr (direct_call<std::decay_t<F>, Args...>::value) {
        return result{std::invoke(f, std::forward<Args>(args)...)};
    } else {
        return invoke_owned<std::decay_t<F>, std::decay_t<Args>...>(std::forward<F>(f), std::forward<Args>(args)...);
    }
}

}  // namespace weft::detail
