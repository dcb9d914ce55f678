// Provides timer_wheel: a hierarchical timing wheel (Varghese & Lauck), 6 levels of 64
// slots. Not synchronized: its shard's lock guards it (timer_shard.hpp).
//
// Level L slot s holds nodes whose deadline tick t agrees with `elapsed` on every 6-bit
// group above L and has s in group L. Insert, cancel and the search for the next occupied
// slot are O(1): one bitmap per level records non-empty slots.
//
// Invariants
//   - Every node in the wheel has tick > elapsed (a node due now is never inserted; the
//     caller fires it instead).
//   - For each level L, every occupied slot is strictly after `elapsed`'s own slot at that
//     level, within the current rotation of level L+1. Hence every node in level L is due
//     before every node in level L+1, and the first occupied slot of the lowest non-empty
//     level holds the earliest deadline.
//   - advance(now) processes slots in deadline order: a level-0 slot's nodes are due; a
//     higher slot's nodes are re-inserted relative to the slot's start (they land lower).
//   - A node whose deadline lies beyond the top level's current rotation (bits above 36
//     differ from `elapsed`; about 199 days at 250 us ticks) waits in `far_`, unsorted, and
//     enters the wheel when `elapsed` reaches the start of its rotation.
#pragma once

#include <weft/detail/timer_node.hpp>

#include <array>
#include <cstdint>
#include <optional>

namespace weft::detail {

class timer_wheel {
public:
    static constexpr unsigned levels = 6;
    static constexpr unsigned slot_bits = 6;
    static constexpr unsigned slots = 1u << slot_bits;
    static constexpr std::uint8_t far_level = 0xff;

    std::uint64_t elapsed() const noexcept { return elapsed_; }
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }

    // Requires node.tick > elapsed().
    void insert(timer_node* node) noexcept;
    void remove(timer_node* node) noexcept;

    // The tick of the earliest slot to process (a deadline, or a cascade point before one).
    std::optional<std::uint64_t> next_expiration() const noexcept;

    // Processes every slot due by `now` and returns the due nodes chained by `next`.
    timer_node* advance(std::uint64_t now) noexcept;

private:
    struct expiration {
        unsigned level;
        unsigned slot;
        std::uint64_t tick;
    };
    std::optional<expiration> next_slot() const noexcept;

    std::uint64_t elapsed_ = 0;
    std::size_t count_ = 0;
    std::array<std::uint64_t, levels> occupied_{};
    std::array<std::array<timer_node*, slots>, levels> heads_{};
    timer_node* far_ = nullptr;               // nodes beyond the current top rotation (level == far_level)
    std::optional<std::uint64_t> far_start_;  // the earliest rotation start among far_ nodes
};

}  // namespace weft::detail
