// Internal (users never include this directly): the record slot, and the
// compare-and-swap that decides every write of vkv.
//
// Thread safety
//   Any number of threads may load() and install() on one slot at once; they must
//   hold an epoch::Guard from before they load a node until they stop using it.
//
// Invariants:
//   1. A Node is immutable once published: its fields are written before the
//      release half of the compare-and-swap that installs it, and never again.
//   2. A write succeeds exactly when its compare-and-swap replaces the node it
//      checked: no lock, no retry loop inside the store. A failed CAS means another
//      writer won; the node it returns (the winner) decides "conflict" versus
//      "not found", never a second lookup.
//   3. Every write installs a node with a fresh version, so a version names one node;
//      a pointer is compared only under a Guard, so a node address is never reused
//      while it is compared (no ABA).
//   4. head == nullptr means "erased". Only a create may move a slot out of that
//      state, and only while it holds the index accessor of the slot's entry (see
//      ShardedIndex); every other write treats nullptr as "not found".
#pragma once

#include <atomic>
#include <cstdint>

#include "vkv/version.hpp"

namespace vkv::detail {

template <class T>
struct Node {
  T value;
  Version version;
  std::uint64_t revision;
  bool deleted;
};

template <class T>
struct RecordSlot {
  explicit RecordSlot(Node<T>* node) noexcept : head(node) {}
  RecordSlot(const RecordSlot& other) noexcept : head(other.load()) {}
  RecordSlot& operator=(const RecordSlot&) = delete;

  // acquire: pairs with the release in install(), so the node's fields are visible.
  Node<T>* load() const noexcept { return head.load(std::memory_order_acquire); }

  // THE compare-and-swap that decides every write (update, patch, soft delete,
  // restore, erase, and the revival of an erased slot by create).
  // Success: acq_rel — release publishes `desired`'s fields (invariant 1); acquire
  //   orders our retiring of `expected` after the previous writer's publication.
  // Failure: acquire — `expected` becomes the winner, whose fields we then read.
  bool install(Node<T>*& expected, Node<T>* desired) const noexcept {
    return head.compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                        std::memory_order_acquire);
  }

  // mutable: the index hands out slots through const accessors; the slot's word is
  // the one thing that changes, and only through install().
  mutable std::atomic<Node<T>*> head;
};

}  // namespace vkv::detail
