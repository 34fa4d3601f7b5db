// Internal (users never include this directly): Node<T>, one immutable state of one
// record, and the owning pointer a write builds it in.
//
// A node is written before the compare-and-swap that publishes it (RecordSlot::install,
// detail/record_slot.hpp) and never changed afterwards, except `used`, an eviction hint.
// Its memory comes from the calling thread's node pool (detail/node_pool.hpp) and goes
// back there a grace period after the write that replaced it (epoch reclamation).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "vkv/detail/node_pool.hpp"
#include "vkv/record.hpp"
#include "vkv/version.hpp"

namespace vkv::detail {

// Revision and flag share a word: a record's revision cannot reach 2^63, and the 8 bytes
// saved are 1/8 of a small record's footprint.
//
// `expires` is part of the immutable state: the steady_clock tick (nanoseconds) from
// which the node counts as absent, 0 = never (detail/expiry.hpp). `used` is the one
// mutable field: the store's coarse LRU clock when the record was last used, written by
// readers of a capacity-bounded store only when it changes (detail/eviction.hpp). It is
// a hint: relaxed, never used to decide a write.
template <class T>
struct Node {
  T value;
  Version version;
  std::uint64_t revision : 63;
  std::uint64_t deleted : 1;
  std::int64_t expires = 0;
  mutable std::atomic<std::uint32_t> used{0};
};

// An owned node not yet published.
template <class T>
using NodePtr = std::unique_ptr<Node<T>, PooledDelete>;

// A node holding `value` (moved in), version and revision still to be set.
template <class T>
NodePtr<T> make_node(T&& value, bool deleted) {
  return NodePtr<T>(make_pooled<Node<T>>(std::move(value), Version(), std::uint64_t{0}, deleted));
}
// A node copying `value` in place (no temporary T, no move).
template <class T>
NodePtr<T> copy_node(const T& value, bool deleted) {
  return NodePtr<T>(make_pooled<Node<T>>(value, Version(), std::uint64_t{0}, deleted));
}

// The public form of an expiry stamp.
inline std::optional<std::chrono::steady_clock::time_point> expires_at_of(
    std::int64_t expires) noexcept {
  if (expires == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(expires)));
}

// The record a reader is handed: a copy of the node's state under the key (copied, or
// moved in when `id` is an rvalue: a create's own key). Inlined always: out of line it
// costs a call and a second pass over the record per read.
template <class T, class KeyArg>
[[gnu::always_inline]] inline Record<T, std::remove_cvref_t<KeyArg>> make_record(
    KeyArg&& id, const Node<T>& node) {
  return Record<T, std::remove_cvref_t<KeyArg>>{
      std::forward<KeyArg>(id),   node.value, node.version, node.revision, node.deleted != 0,
      expires_at_of(node.expires)};
}

// make_record for emplace() and std::in_place: converts where the record is to live, so
// the key and value are copied once, never moved afterwards. Record is an aggregate:
// built through this conversion, not from a parenthesized list (clang 14 has no P0960).
// KeyRef = Key&& takes the key (a create's own).
template <class T, class Key, class KeyRef = const Key&>
struct RecordOf {
  KeyRef id;
  const Node<T>& node;
  operator Record<T, Key>() const {  // NOLINT: implicit by design
    return make_record(static_cast<KeyRef>(id), node);
  }
};

}  // namespace vkv::detail
