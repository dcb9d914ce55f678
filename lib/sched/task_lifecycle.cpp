// Provides the end of a root task's life: panics, frame destruction, wait_group release.
#include "mem/frame_pool.hpp"
#include "sched/panic.hpp"

#include <weft/detail/promise.hpp>
#include <weft/task.hpp>
#include <weft/wait_group.hpp>

#include <stdexcept>

namespace weft::detail {

void finish_root(std::coroutine_handle<> frame, std::exception_ptr& escaped, wait_group* group) noexcept {
    std::exception_ptr error = std::move(escaped);  // the frame (and `escaped`) is about to go
    destroy_root(frame);
    if (error) report_panic(std::move(error));
    if (group) group->done();  // a negative counter here is a panic: done() throws into noexcept
}

void throw_bad_await(const char* what) {
    throw std::logic_error(what);
}

}  // namespace weft::detail
