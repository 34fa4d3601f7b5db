// Internal (users never include this directly): the descriptor of an atomic
// multi-record commit, and how any thread that meets one resolves it.
//
// A commit of k entries is a multi-word compare-and-swap over k record slots
// (Harris, Fraser & Pratt 2002, with owner-only installation):
//   1. the committing thread replaces each slot's current node by a tagged pointer to
//      its entry (expected -> entry), in the transaction's order, checking each
//      entry's version against the node it replaces;
//   2. it decides: status undecided -> succeeded (all installed) or -> failed;
//   3. it replaces each installed entry by the node the decision selects (desired on
//      success, expected on failure), then retires the descriptor.
// In the common case that is k + 1 + k compare-and-swaps, no lock.
//
// Thread safety
//   Every function may run concurrently with the owner and with other helpers.
//
// Invariants (besides RecordSlot's invariant 5):
//   1. status moves once, from undecided to succeeded or failed (compare-and-swap).
//   2. installed counts the entries the owner has installed; only the owner writes it.
//      While status is undecided, an installed entry stays in its slot. So
//      installed == size means every slot holds its entry right now, and any thread
//      may decide succeeded; otherwise it may only decide failed (abort).
//   3. Only the owner installs, and never after deciding, so once the owner has
//      released its entries the descriptor is unreachable and can be retired.
//   4. A reader never writes: it reads through an entry (status succeeded: desired,
//      else expected). A writer or another commit that meets an entry decides it and
//      replaces it by the selected node, then goes on: nobody ever waits for a
//      committer, so a stalled committer blocks no one (it merely gets aborted).
//   5. The thread whose compare-and-swap replaces an entry by `desired` (success)
//      retires `expected` if the entry changed the record.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vkv/detail/epoch.hpp"
#include "vkv/detail/record_slot.hpp"

namespace vkv::detail {

enum class TxStatus : int { undecided, succeeded, failed };

template <class T>
struct TxDescriptor;

template <class T>
struct alignas(8) TxEntry {
  TxDescriptor<T>* owner = nullptr;
  Node<T>* expected = nullptr;  // the node the entry replaced: the state if not committed
  Node<T>* desired = nullptr;   // the state once committed (== expected for a check,
                                // nullptr for an erase)
};

template <class T>
struct TxDescriptor {
  explicit TxDescriptor(std::size_t size) : entries(size) {
    for (TxEntry<T>& entry : entries) entry.owner = this;
  }
  std::atomic<TxStatus> status{TxStatus::undecided};
  std::atomic<std::size_t> installed{0};  // invariant 2
  std::vector<TxEntry<T>> entries;
};

template <class T>
Node<T>* logical_node(std::uintptr_t word) noexcept {
  const TxEntry<T>* entry = word_entry<T>(word);
  // acquire: pairs with the decision's acq_rel; a success makes desired the state.
  return entry->owner->status.load(std::memory_order_acquire) == TxStatus::succeeded
             ? entry->desired
             : entry->expected;
}

// Decides the commit owning `entry` if it is still undecided (invariant 2); returns
// the decision.
template <class T>
TxStatus decide_commit(TxDescriptor<T>& descriptor) noexcept {
  TxStatus status = descriptor.status.load(std::memory_order_acquire);
  if (status != TxStatus::undecided) return status;
  // acquire: pairs with the owner's release increment after each install.
  const TxStatus target =
      descriptor.installed.load(std::memory_order_acquire) == descriptor.entries.size()
          ? TxStatus::succeeded
          : TxStatus::failed;
  // acq_rel: publishes the decision; on failure `status` receives the winner's.
  if (descriptor.status.compare_exchange_strong(status, target, std::memory_order_acq_rel,
                                                std::memory_order_acquire)) {
    return target;
  }
  return status;
}

// Replaces the entry in `word` (seen there as `seen`) by the node its commit's
// decision selects. Retires the replaced node when the commit changed the record
// (invariant 5). May throw std::bad_alloc before changing anything.
template <class T>
void resolve_entry(std::atomic<std::uintptr_t>& word, std::uintptr_t seen) {
  epoch::reserve(1);
  TxEntry<T>* entry = word_entry<T>(seen);
  const TxStatus status = decide_commit(*entry->owner);
  Node<T>* selected = status == TxStatus::succeeded ? entry->desired : entry->expected;
  // acq_rel: release re-publishes the selected node to later acquirers; a failure
  // means another thread already replaced the entry.
  if (word.compare_exchange_strong(seen, node_word(selected), std::memory_order_acq_rel,
                                   std::memory_order_acquire) &&
      status == TxStatus::succeeded && entry->desired != entry->expected) {
    epoch::retire(entry->expected);
  }
}

}  // namespace vkv::detail
