// Provides the frame pool's private interface: the shutdown walk that destroys leftover roots.
//
// Frames live in 64 KiB-aligned slabs, one size class per slab. A freed block carries a
// marker in the byte where a live frame keeps its mode (detail::frame_layout), so run()'s
// shutdown can find every task still alive without a registry on the spawn path: it walks
// the slabs and destroys the root frames (mode detached or joinable), whose destruction
// destroys the child frames they own.
#pragma once

#include <coroutine>
#include <cstddef>

namespace weft::detail {

// Destroys every root frame still alive. Only while no other thread runs tasks or allocates
// frames (after the workers are joined). Returns how many it destroyed.
std::size_t frame_destroy_all_roots() noexcept;

}  // namespace weft::detail
