// Internal (users never include this directly): the record slot, and the
// compare-and-swap that decides every write of vkv.
//
// A slot is one atomic word. It holds either a pointer to an immutable Node
// (detail/node.hpp: the record's current state; nullptr = erased), or, briefly, a
// tagged pointer to one entry of a multi-record commit's descriptor
// (detail/transaction_descriptor.hpp).
//
// Thread safety
//   Any number of threads may load(), load_for_write() and install() on one slot at
//   once; they hold an epoch::Guard from before they load a word until they stop
//   using what it points to.
//
// Invariants:
//   1. A Node is immutable once published: its fields are written before the
//      release half of the compare-and-swap that installs it, and never again. The
//      one exception is `used`, an atomic eviction hint that decides nothing.
//   2. A write succeeds exactly when its compare-and-swap replaces the node it
//      checked. A failed CAS means another writer won; the node it returns (the
//      winner) decides "conflict" versus "not found", never a second lookup. (When
//      the CAS lost to a commit's descriptor instead, the writer resolves it and
//      decides again on the record's logical state.)
//   3. Every write installs a node with a fresh version, so a version names one node;
//      a pointer is compared only under a Guard, so a node address is never reused
//      while it is compared (no ABA).
//   4. nullptr means "erased". Only a create may move a slot out of that state, and
//      only while it holds the index accessor of the slot's entry (ShardedIndex).
//   5. A descriptor entry is installed (by the committing thread or a helper, in the
//      commit's slot order; docs/commits.md) only over the plain node its owner read,
//      and only while its commit is undecided; once decided, every thread that meets
//      it replaces it by the node the decision selects.
//      The logical state of a slot holding an entry is entry.desired if the commit
//      succeeded, else entry.expected.
#pragma once

#include <atomic>
#include <cstdint>

#include "vkv/detail/node.hpp"
#include "vkv/version.hpp"

namespace vkv::detail {

template <class T>
struct TxEntry;  // detail/transaction_descriptor.hpp

// Bit 0 of a slot word tags a descriptor entry (Nodes and entries are 8-aligned).
inline constexpr std::uintptr_t kEntryTag = 1;

template <class T>
std::uintptr_t node_word(const Node<T>* node) noexcept {
  return reinterpret_cast<std::uintptr_t>(node);
}
template <class T>
Node<T>* word_node(std::uintptr_t word) noexcept {
  return reinterpret_cast<Node<T>*>(word);
}
inline bool is_entry_word(std::uintptr_t word) noexcept { return (word & kEntryTag) != 0; }
template <class T>
TxEntry<T>* word_entry(std::uintptr_t word) noexcept {
  return reinterpret_cast<TxEntry<T>*>(word & ~kEntryTag);
}
template <class T>
std::uintptr_t entry_word(const TxEntry<T>* entry) noexcept {
  return reinterpret_cast<std::uintptr_t>(entry) | kEntryTag;
}

// Defined in detail/transaction_descriptor.hpp (needs the full descriptor).
template <class T>
Node<T>* logical_node(std::uintptr_t word) noexcept;
template <class T>
void resolve_entry(std::atomic<std::uintptr_t>& word, std::uintptr_t seen);

template <class T>
struct RecordSlot {
  explicit RecordSlot(Node<T>* node) noexcept : word(node_word(node)) {}
  RecordSlot(const RecordSlot& other) noexcept : word(other.word.load(std::memory_order_relaxed)) {}
  RecordSlot& operator=(const RecordSlot&) = delete;

  // The record's logical state, for readers: never waits, never writes. A commit
  // in flight is read through (invariant 5).
  // acquire: pairs with the release in install(), so the node's fields are visible.
  Node<T>* load() const noexcept {
    const std::uintptr_t seen = word.load(std::memory_order_acquire);
    if (!is_entry_word(seen)) [[likely]] {
      return word_node<T>(seen);
    }
    return logical_node<T>(seen);
  }

  // The record's current node, for writers: a commit in flight is first resolved
  // (helped to finish, or decided), so the word holds a plain node when we return
  // it. May throw std::bad_alloc (reserving retirement capacity) before changing
  // anything.
  Node<T>* load_for_write() const {
    for (;;) {
      const std::uintptr_t seen = word.load(std::memory_order_acquire);
      if (!is_entry_word(seen)) [[likely]] {
        return word_node<T>(seen);
      }
      resolve_entry<T>(word, seen);
    }
  }

  // THE compare-and-swap that decides every write (update, patch, soft delete,
  // restore, erase, and the revival of an erased slot by create).
  // Success: seq_cst — release publishes `desired`'s fields (invariant 1); acquire
  //   orders our retiring of `expected` after the previous writer's publication; and
  //   seq_cst puts the unlinking of `expected` in the single total order before the
  //   epoch load that stamps its retirement (epoch.hpp, retire()), which an acq_rel
  //   CAS would not (on x86 and ARMv8 the instruction is the same).
  // Failure: acquire — `observed` receives the winner's word, whose target we read.
  bool install(Node<T>* expected, Node<T>* desired, std::uintptr_t& observed) const noexcept {
    observed = node_word(expected);
    return word.compare_exchange_strong(observed, node_word(desired), std::memory_order_seq_cst,
                                        std::memory_order_acquire);
  }

  // mutable: the index hands out slots through const accessors; the slot's word is
  // the one thing that changes, and only through compare-and-swap.
  mutable std::atomic<std::uintptr_t> word;
};

}  // namespace vkv::detail
