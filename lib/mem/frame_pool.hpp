// Provides the frame pool's private interface: the shutdown walk that destroys leftover roots,
// and giving free memory back to the OS.
//
// Frames live in 64 KiB-aligned slabs, one size class per slab. A freed block carries a
// marker in the byte where a live frame keeps its mode (detail::frame_layout), so run()'s
// shutdown can find every task still alive without a registry on the spawn path: it walks
// the slabs and destroys the root frames (mode detached or joinable), whose destruction
// destroys the child frames they own.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>

namespace weft::detail {

// Destroys every root frame still alive. Only while no other thread runs tasks or allocates
// frames (after the workers are joined). Returns how many it destroyed.
std::size_t frame_destroy_all_roots() noexcept;

// Returns to the OS the pages of every slab (both pools) whose blocks are all free in the
// depots; first moves this thread's cached blocks there if `flush_this_thread`. Any thread,
// any time. Returns the bytes released (weft::free_os_memory).
std::size_t frame_pool_release(bool flush_this_thread) noexcept;

// Free bytes in the depots from which maybe_release_free_slabs does anything.
inline constexpr std::size_t release_threshold = std::size_t{4} << 20;
// frame_pool_release(false) if the depots hold release_threshold bytes of free blocks and the
// last such call was a second or more ago, keeping a reserve sized by each class's recent
// use. Called by a worker that runs out of work, before it parks.
void maybe_release_free_slabs() noexcept;
// When a parked worker should wake to call maybe_release_free_slabs again (the last call held
// free slabs back as a reserve, or was refused as too soon after the one before), or
// time_point::max().
std::chrono::steady_clock::time_point release_follow_up_due() noexcept;

}  // namespace weft::detail
