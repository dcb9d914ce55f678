// Provides report_panic: the fate of an exception escaping a task that nobody awaits.
#pragma once

#include <exception>

namespace weft::detail {

// Calls the handler from set_panic_handler, or prints
// "weft: panic in task: <what()> [exception type: <type>]" to stderr and aborts.
void report_panic(std::exception_ptr escaped) noexcept;

}  // namespace weft::detail
