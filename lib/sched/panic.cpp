// Provides panics: what happens to an exception that escapes a task nobody awaits.
#include "sched/panic.hpp"

#include <weft/runtime.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <typeinfo>

namespace weft::detail {
namespace {

std::mutex g_handler_lock;  // protects g_handler
panic_handler g_handler;    // guarded by g_handler_lock

std::string current_exception_type_name() {
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (!type) return "unknown";
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type->name(), nullptr, nullptr, &status),
                                                std::free);
    return status == 0 && name ? name.get() : type->name();
}

}  // namespace

void report_panic(std::exception_ptr escaped) noexcept {
    panic_handler handler;
    {
        std::lock_guard guard(g_handler_lock);
        handler = g_handler;
    }
    if (handler) {
        handler(std::move(escaped));  // a throwing handler terminates (we are noexcept)
        return;
    }
    std::string what, type;
    try {
        std::rethrow_exception(escaped);
    } catch (const std::exception& e) {
        what = e.what();
        type = current_exception_type_name();
    } catch (...) {
        what = "(not a std::exception)";
        type = current_exception_type_name();
    }
    std::fprintf(stderr, "weft: panic in task: %s [exception type: %s]\n", what.c_str(), type.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace weft::detail

namespace weft {

panic_handler set_panic_handler(panic_handler handler) {
    std::lock_guard guard(detail::g_handler_lock);
    std::swap(handler, detail::g_handler);
    return handler;
}

}  // namespace weft
