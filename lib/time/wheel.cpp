// Provides the hierarchical timing wheel (see wheel.hpp for its invariants).
#include "time/wheel.hpp"

#include <bit>

namespace weft::detail {
namespace {

constexpr unsigned rotation_bits = timer_wheel::levels * timer_wheel::slot_bits;  // 36

// The level where `tick` goes, relative to `elapsed`: the highest 6-bit group in which they
// differ (they agree above bit 36, or the node is far).
unsigned level_for(std::uint64_t elapsed, std::uint64_t tick) noexcept {
    const std::uint64_t differing = (elapsed ^ tick) | (timer_wheel::slots - 1);
    const unsigned significant = 63u - static_cast<unsigned>(std::countl_zero(differing));
    return significant / timer_wheel::slot_bits;
}

std::uint64_t rotation_start(std::uint64_t tick) noexcept {
    return tick >> rotation_bits << rotation_bits;
}

}  // namespace

void timer_wheel::insert(timer_node* node) noexcept {
    ++count_;
    node->prev = nullptr;
    if ((node->tick >> rotation_bits) != (elapsed_ >> rotation_bits)) {
        node->level = far_level;
        node->next = far_;
        if (far_) far_->prev = node;
        far_ = node;
        const std::uint64_t start = rotation_start(node->tick);
        if (!far_start_ || start < *far_start_) far_start_ = start;
        return;
    }
    const unsigned level = level_for(elapsed_, node->tick);
    const unsigned slot = static_cast<unsigned>((node->tick >> (level * slot_bits)) & (slots - 1));
    node->level = static_cast<std::uint8_t>(level);
    node->slot = static_cast<std::uint8_t>(slot);
    timer_node*& head = heads_[level][slot];
    node->next = head;
    if (head) head->prev = node;
    head = node;
    occupied_[level] |= std::uint64_t{1} << slot;
}

void timer_wheel::remove(timer_node* node) noexcept {
    timer_node*& head = node->level == far_level ? far_ : heads_[node->level][node->slot];
    if (node->prev) {
        node->prev->next = node->next;
    } else {
        head = node->next;
    }
    if (node->next) node->next->prev = node->prev;
    if (node->level != far_level && !head) occupied_[node->level] &= ~(std::uint64_t{1} << node->slot);
    node->prev = node->next = nullptr;
    --count_;
    // far_start_ may now be early: advance() recomputes it when it gets there.
}

std::optional<timer_wheel::expiration> timer_wheel::next_slot() const noexcept {
    for (unsigned level = 0; level < levels; ++level) {
        if (!occupied_[level]) continue;
        const unsigned shift = level * slot_bits;
        const unsigned current = static_cast<unsigned>((elapsed_ >> shift) & (slots - 1));
        // Under the invariant every occupied slot is strictly after the current one.
        const std::uint64_t after = current == slots - 1 ? 0 : occupied_[level] & (~std::uint64_t{0} << (current + 1));
        if (!after) {  // defensive: a slot at or before the current one is due now
            return expiration{level, static_cast<unsigned>(std::countr_zero(occupied_[level])), elapsed_};
        }
        const unsigned slot = static_cast<unsigned>(std::countr_zero(after));
        const std::uint64_t rotation = elapsed_ & ~((std::uint64_t{1} << (shift + slot_bits)) - 1);
        return expiration{level, slot, rotation + (std::uint64_t{slot} << shift)};
    }
    if (far_start_) return expiration{levels, 0, *far_start_};
    return std::nullopt;
}

std::optional<std::uint64_t> timer_wheel::next_expiration() const noexcept {
    if (auto e = next_slot()) return e->tick;
    return std::nullopt;
}

timer_node* timer_wheel::advance(std::uint64_t now) noexcept {
    timer_node* due = nullptr;
    auto take = [&](timer_node* list) {
        while (list) {
            timer_node* node = list;
            list = node->next;
            --count_;
            if (node->tick <= elapsed_) {
                node->prev = nullptr;
                node->next = due;
                due = node;
            } else {
                insert(node);  // cascades to a lower level, or stays far
            }
        }
    };
    for (;;) {
        const auto e = next_slot();
        if (!e || e->tick > now) break;
        if (e->tick > elapsed_) elapsed_ = e->tick;
        if (e->level == levels) {  // the far list's rotation has begun: re-place all of it
            timer_node* list = far_;
            far_ = nullptr;
            far_start_.reset();
            take(list);
            continue;
        }
        timer_node* list = heads_[e->level][e->slot];
        heads_[e->level][e->slot] = nullptr;
        occupied_[e->level] &= ~(std::uint64_t{1} << e->slot);
        take(list);
    }
    if (now > elapsed_) elapsed_ = now;
    return due;
}

}  // namespace weft::detail
