// Provides the end of a root task's life (panics, frame destruction, wait_group release) and
// the boxes that carry an escaped exception out of a frame (promise.hpp).
#include "mem/frame_pool.hpp"
#include "sched/panic.hpp"

#include <weft/detail/promise.hpp>
#include <weft/task.hpp>
#include <weft/wait_group.hpp>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <utility>

namespace weft::detail {

constinit thread_local escaped_exception* t_escaped = nullptr;

namespace {
// Empties and frees a box: what it carried.
std::exception_ptr unbox(escaped_exception* box) noexcept {
    std::exception_ptr error = std::move(box->error);
    delete box;
    return error;
}
}  // namespace

void stash_escaped(const promise_base* owner) noexcept {
    // Called from a catch block, so current_exception() is the escaping one. A box still
    // here would belong to a coroutine whose awaiter never looked: an internal error.
    if (t_escaped) {
        std::fputs("weft: internal error: an escaped exception was never collected\n", stderr);
        std::abort();
    }
    t_escaped = new escaped_exception{std::current_exception(), owner};  // bad_alloc: terminate
}

void rethrow_escaped(const promise_base* owner) {
    escaped_exception* box = std::exchange(t_escaped, nullptr);
    if (box->owner != owner) {
        std::fputs("weft: internal error: an escaped exception reached the wrong awaiter\n", stderr);
        std::abort();
    }
    std::rethrow_exception(unbox(box));
}

void rethrow_join_failure(promise_base& promise) {
    std::rethrow_exception(unbox(promise.take_join_failure()));  // the frame's link no longer holds it
}

void delete_escaped(escaped_exception* box) noexcept {
    delete box;
}

std::uintptr_t take_escaped_as_join_outcome() noexcept {
    return reinterpret_cast<std::uintptr_t>(std::exchange(t_escaped, nullptr)) | join_failed_tag;
}

void finish_dropped_join(std::coroutine_handle<> frame, promise_base& promise) noexcept {
    finish_root(frame, promise.take_join_failure(), nullptr);
}

void finish_root(std::coroutine_handle<> frame, escaped_exception* escaped, wait_group* group) noexcept {
    destroy_root(frame);
    if (escaped) report_panic(unbox(escaped));
    if (group) group->done();  // a negative counter here is a panic: done() throws into noexcept
}

void throw_bad_await(const char* what) {
    throw std::logic_error(what);
}

}  // namespace weft::detail
