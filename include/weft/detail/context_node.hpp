// Provides the nodes of a context tree, as far as weft's templates need them; the tree's
// protocol lives in lib/context/context_node.cpp and docs/design/context.md.
#pragma once

#include <any>
#include <atomic>
#include <functional>
#include <memory>
#include <typeinfo>
#include <utility>

namespace weft::detail {

class context_node;

// An owning, intrusively counted pointer to a context node.
class context_ptr {
public:
    context_ptr() noexcept = default;
    explicit context_ptr(context_node* adopted) noexcept : node_(adopted) {}
    context_ptr(const context_ptr& other) noexcept;
    context_ptr(context_ptr&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
    context_ptr& operator=(context_ptr other) noexcept {
        std::swap(node_, other.node_);
        return *this;
    }
    ~context_ptr();
    context_node* get() const noexcept { return node_; }
    context_node* operator->() const noexcept { return node_; }
    explicit operator bool() const noexcept { return node_ != nullptr; }
    friend bool operator==(const context_ptr& a, const context_ptr& b) noexcept { return a.node_ == b.node_; }

private:
    context_node* node_ = nullptr;
};

// A key/value binding of with_value, with the key's type erased.
struct value_entry_base {
    virtual ~value_entry_base() = default;
    virtual const std::type_info& key_type() const noexcept = 0;
    virtual const void* key() const noexcept = 0;
    std::any value;
};
template <class K>
struct value_entry final : value_entry_base {
    value_entry(K k, std::any v) : stored_key(std::move(k)) { value = std::move(v); }
    const std::type_info& key_type() const noexcept override { return typeid(K); }
    const void* key() const noexcept override { return &stored_key; }
    K stored_key;
};

context_ptr make_value_node(const context_ptr& parent, std::unique_ptr<value_entry_base> entry);
const std::any* find_value(const context_node* from, const std::type_info& key_type, const void* key,
                           bool (*equal)(const void*, const void*));

// A context after_func registration (shared by its handle and the context while pending).
struct context_callback;
std::shared_ptr<context_callback> register_callback(const context_ptr& ctx, std::function<void()> start);

}  // namespace weft::detail
