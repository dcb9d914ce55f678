// Provides the frame pool's private interface: root tagging and the shutdown walk.
//
// Frames live in 64 KiB-aligned slabs, one size class per slab. Each slab keeps one tag byte
// per block (free / frame / root), so run()'s shutdown can find every task still alive
// without a registry on the spawn path: it walks the slabs and destroys the root frames,
// whose destruction destroys the child frames they own.
#pragma once

#include <coroutine>
#include <cstddef>

namespace weft::detail {

// Tags `frame` (a pointer returned by frame_alloc) as the frame of a root task.
void frame_mark_root(void* frame) noexcept;
// Clears the tag before a root frame is destroyed by its own completion or its handle.
void frame_unmark_root(void* frame) noexcept;

// Destroys every frame tagged root. Only while no other thread runs tasks or allocates
// frames (after the workers are joined). Returns how many it destroyed.
std::size_t frame_destroy_all_roots() noexcept;

// The size frame_alloc was last asked for on this thread (for the frame-size report).
std::size_t frame_last_request() noexcept;

}  // namespace weft::detail
