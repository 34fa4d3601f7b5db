// Internal (users never include this directly): the owner's side of an atomic
// multi-record commit over a StoreEngine (detail/store_engine.hpp): read every entry,
// build what can throw, install descriptor entries in slot order, decide, release, and
// keep the books. The descriptor and how other threads resolve it:
// detail/transaction_descriptor.hpp; the protocol: docs/commits.md.
//
// Thread safety
//   Any number of commits and single-record operations may run at once; readers never
//   wait for a commit (they read through its entries).
//
// Invariants:
//   1. Everything that can throw (nodes, records, the descriptor, retirement room) is
//      built before the first entry is installed: once one is in, a helper may finish
//      the commit at any moment.
//   2. On success the owner, and only the owner, retires each replaced node, with the
//      books of a single write (StoreCore::settle; descriptor invariant 6).
//   3. A failed commit names the first entry, in the transaction's order, that fails
//      at one instant (docs/commits.md, "Naming the failing entry").
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "vkv/detail/counters.hpp"
#include "vkv/detail/epoch.hpp"
#include "vkv/detail/expiry.hpp"
#include "vkv/detail/key_text.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/detail/node_pool.hpp"
#include "vkv/detail/record_slot.hpp"
#include "vkv/detail/transaction_descriptor.hpp"
#include "vkv/detail/verdict.hpp"
#include "vkv/detail/version_generator.hpp"
#include "vkv/options.hpp"
#include "vkv/result.hpp"

namespace vkv::detail {

// The descriptor a store builds: the protocol's descriptor plus copies of the entries'
// keys, so that a helper can look each slot up through the index under its own Guard
// (transaction_descriptor.hpp, invariant 4). Copies, because a helper may still run
// after the owner has returned and its transaction is gone.
template <class T, class Key, class Index>
struct KeyedTxDescriptor final : TxDescriptor<T> {
  KeyedTxDescriptor(std::size_t size, const Index& store_index)
      : TxDescriptor<T>(size, &find), index(&store_index) {
    keys.reserve(size);
  }
  static const RecordSlot<T>* find(const TxDescriptor<T>& base, std::size_t j) {
    const auto& self = static_cast<const KeyedTxDescriptor&>(base);
    return self.index->find(self.index->hashed(self.keys[j]));
  }
  std::size_t footprint() const noexcept override {
    std::size_t bytes = sizeof(KeyedTxDescriptor) - sizeof(TxDescriptor<T>) +
                        TxDescriptor<T>::footprint() + keys.capacity() * sizeof(Key);
    for (const Key& key : keys) bytes += heap_bytes(key);
    return bytes;
  }
  const Index* index;     // the store outlives every operation on it
  std::vector<Key> keys;  // in install order
};

template <class Rec>
struct CommitOutcome {
  Verdict verdict = Verdict::ok;
  std::size_t failed_entry = 0;
  Version actual;
  std::vector<Rec> records;
  // An entry the attempt met expired: to be removed, then the commit goes again.
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t expired_entry = kNone;
  WriteOutcome<Rec> as_write_outcome() const {
    WriteOutcome<Rec> outcome;
    outcome.verdict = verdict;
    outcome.actual = actual;
    return outcome;
  }
};

// Throws std::invalid_argument if tx names an id twice.
template <class Engine>
void reject_duplicate_ids(const Engine& engine, const typename Engine::transaction_type& tx) {
  using Key = typename Engine::key_type;
  using Hash = typename Engine::hasher;
  using KeyEqual = typename Engine::key_equal;
  const auto& entries = tx.entries();
  const KeyEqual equal{};
  auto reject = [&](const Key& id) {
    throw std::invalid_argument("vkv: transaction names " + engine.options().entity_type + " " +
                                key_text(id) + " twice");
  };
  // Small transactions (the common case) compare pairwise: no allocation and no second
  // hashing of every key.
  if (entries.size() <= 16) {
    for (std::size_t i = 1; i < entries.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (equal(entries[j].id, entries[i].id)) reject(entries[i].id);
      }
    }
    return;
  }
  struct KeyPtrHash {
    const Hash* hash;
    std::size_t operator()(const Key* key) const { return (*hash)(*key); }
  };
  struct KeyPtrEqual {
    const KeyEqual* equal;
    bool operator()(const Key* a, const Key* b) const { return (*equal)(*a, *b); }
  };
  const Hash hash{};
  std::unordered_set<const Key*, KeyPtrHash, KeyPtrEqual> seen(
      entries.size() * 2, KeyPtrHash{&hash}, KeyPtrEqual{&equal});
  for (const auto& entry : entries) {
    if (!seen.insert(&entry.id).second) reject(entry.id);
  }
}

// One attempt of a commit: the owner's side of detail/transaction_descriptor.hpp.
// Returns ok with the records, or a verdict naming the first failing entry (in the
// transaction's order) at one instant. `unnamed` is set if it found nothing to name,
// which the protocol rules out (docs/commits.md, "Naming the failing entry"); the
// caller then tries again rather than report an entry that did not fail.
template <class Engine>
CommitOutcome<typename Engine::record_type> commit_attempt(
    Engine& engine, const typename Engine::transaction_type& tx, bool& unnamed) {
  using T = typename Engine::value_type;
  using Key = typename Engine::key_type;
  using node_type = typename Engine::node_type;
  using node_ptr = typename Engine::node_ptr;
  using slot_type = typename Engine::slot_type;
  using HashedKey = typename Engine::HashedKey;
  using CommitOutcome = detail::CommitOutcome<typename Engine::record_type>;
  using Op = typename Engine::transaction_type::Op;
  using Descriptor = KeyedTxDescriptor<T, Key, typename Engine::index_type>;
  const auto& index = engine.index();
  const auto& entries = tx.entries();
  const std::size_t size = entries.size();
  unnamed = false;
  ++tx_probe.attempts;
  CommitOutcome outcome;
  auto kind_of = [](Op op) {
    return op == Op::erase         ? WriteKind::erase
           : op == Op::soft_delete ? WriteKind::soft_delete
                                   : WriteKind::update;
  };
  // An expired node is absent (the clock is read only for nodes that expire).
  auto decide = [&](std::size_t i, const node_type* node) {
    if (node != nullptr && expired(*node)) return Verdict::absent;
    return decide_live(node, entries[i].expected, kind_of(entries[i].op), false);
  };
  auto holds = [&](std::size_t i, const node_type* node) { return decide(i, node) == Verdict::ok; };
  // An entry met expired is absent only once the CAS at its node removed it: the
  // attempt ends (its Guard too) and commit_impl removes it and tries again.
  auto met_expired = [&](std::size_t i) {
    CommitOutcome retry;
    retry.expired_entry = i;
    unnamed = true;
    return retry;
  };
  auto has_expired = [](const node_type* node) { return node != nullptr && expired(*node); };
  // What the owner keeps per entry, in the transaction's order (one allocation).
  struct Pending {
    HashedKey key;
    const slot_type* slot;  // found under our Guard: ours to use, never a helper's
    node_type* current;     // the node read in step 0: the entry's expected node
    node_ptr fresh;         // update / soft delete: the node to install
  };
  std::vector<Pending> pending;
  pending.reserve(size);
  for (const auto& entry : entries) {
    pending.push_back(Pending{index.hashed(entry.id), nullptr, nullptr, node_ptr()});
  }

  epoch::Guard guard;
  // A failed commit reports the first entry, in the transaction's order, that fails at
  // one instant: `failed` (seen as `seen`) is a candidate; every entry before it must
  // be read again, after it, at its expected version (then, by the descriptor's
  // invariant 3, it held all along). A later read that fails gives a smaller candidate,
  // so this ends. Reads only, through the index (keys may have been erased since).
  auto name_failure = [&](std::size_t failed, const node_type* seen) {
    for (bool clean = false; !clean;) {
      clean = true;
      for (std::size_t i = 0; i < failed && i < size; ++i) {
        const slot_type* slot = index.find(pending[i].key);
        const node_type* node = slot != nullptr ? slot->load() : nullptr;
        if (!holds(i, node)) {
          failed = i;
          seen = node;
          clean = false;
          break;
        }
      }
    }
    CommitOutcome failure;
    if (failed >= size) {
      unnamed = true;
      return failure;
    }
    if (has_expired(seen)) return met_expired(failed);
    failure.failed_entry = failed;
    failure.verdict = decide(failed, seen);
    if (failure.verdict == Verdict::conflict) failure.actual = seen->version;
    return failure;
  };

  // 0. Read every entry's record, in the transaction's order (read-through: a commit
  //    in flight is neither waited for nor touched).
  for (std::size_t i = 0; i < size; ++i) {
    pending[i].slot = index.find(pending[i].key);
    pending[i].current = pending[i].slot != nullptr ? pending[i].slot->load() : nullptr;
    if (has_expired(pending[i].current)) [[unlikely]]
      return met_expired(i);
    if (!holds(i, pending[i].current)) return name_failure(i, pending[i].current);
  }

  // Build everything that can throw before the first install: once one entry is in,
  // a helper may finish the commit at any moment.
  std::vector<std::size_t> order(size);
  for (std::size_t i = 0; i < size; ++i) order[i] = i;
  // The global install order: slot address (std::less is a total order on pointers).
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::less<const slot_type*>()(pending[a].slot, pending[b].slot);
  });
  for (std::size_t i = 0; i < size; ++i) {
    if (entries[i].op == Op::update) pending[i].fresh = copy_node(*entries[i].value, false);
    if (entries[i].op == Op::soft_delete)
      pending[i].fresh = copy_node(pending[i].current->value, true);
    if (pending[i].fresh) {
      pending[i].fresh->version = next_version();
      pending[i].fresh->revision = pending[i].current->revision + 1;
      // An update takes the default expiry; a soft delete keeps the record's.
      pending[i].fresh->expires = entries[i].op == Op::update ? engine.expiry_of(std::nullopt)
                                                              : pending[i].current->expires;
      engine.stamp(*pending[i].fresh);
    }
  }
  outcome.records.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    outcome.records.push_back(
        make_record(entries[i].id, pending[i].fresh ? *pending[i].fresh : *pending[i].current));
  }
  auto descriptor = std::make_unique<Descriptor>(size, index);
  // What deciding and releasing retire: each replaced node, each index entry an erase
  // drops, and the descriptor.
  std::size_t retirements = 1;
  for (std::size_t j = 0; j < size; ++j) {
    const std::size_t i = order[j];
    TxEntry<T>& entry = descriptor->entries[j];
    entry.expected = pending[i].current;
    entry.expected_version = pending[i].current->version;
    entry.slot = pending[i].slot;
    entry.desired = entries[i].op == Op::check   ? pending[i].current
                    : entries[i].op == Op::erase ? nullptr
                                                 : pending[i].fresh.get();
    if (entry.desired != entry.expected) ++retirements;
    if (entries[i].op == Op::erase) ++retirements;
    descriptor->keys.push_back(entries[i].id);
  }
  epoch::reserve(retirements);

  // 1-2. Install in slot order and decide (helpers may do part or all of it).
  const TxStatus status = run_commit(
      *descriptor, [&](std::size_t j) { return pending[order[j]].slot; }, /*owner=*/true,
      retirements);
  at_commit_point(CommitPoint::decided, *descriptor, size, /*owner=*/true);
  const bool succeeded = status == TxStatus::succeeded;
  // 3. Release every entry still in place (ours, or installed by a helper), then hand
  //    our reference back (descriptor invariant 5). Nothing below allocates or throws.
  for (std::size_t j = 0; j < size; ++j) {
    release_entry(*pending[order[j]].slot, descriptor->entries[j], status);
  }
  if (succeeded) {
    std::uint64_t writes = 0;
    for (std::size_t j = 0; j < size; ++j) {
      const TxEntry<T>& entry = descriptor->entries[j];
      const std::size_t i = order[j];
      if (entries[i].op == Op::check) continue;
      ++writes;
      // Unreachable for new readers since the decision (they read desired): retired
      // here, once, by the owner (descriptor invariant 6), with the books of a single
      // write (StoreCore::settle).
      (void)pending[i].fresh.release();  // now owned by the slot
      engine.settle(pending[i].key, pending[i].slot, entry.expected, entry.desired);
    }
    engine.counters().add(Counter::writes, writes);
  }
  drop_reference<T>(*descriptor.release());
  if (succeeded) return outcome;
  // Failed: a slot held another node than its entry's expected one while undecided.
  // Our fresh nodes were never reachable (readers take desired only on success).
  return name_failure(size, nullptr);
}

// The whole commit: one attempt decides; a failed one names its entry.
template <class Engine>
CommitOutcome<typename Engine::record_type> commit_impl(
    Engine& engine, const typename Engine::transaction_type& tx) {
  using CommitOutcome = detail::CommitOutcome<typename Engine::record_type>;
  reject_duplicate_ids(engine, tx);
  if (tx.empty()) return CommitOutcome{};
  // A commit fails only on a version it checked, and then names the entry. The loop is
  // not a retry policy: it goes again only after removing an expired record an attempt
  // met (absent is decided by that removal's CAS, never by the clock alone), or as a
  // guard against a bug (see unnamed).
  for (;;) {
    epoch::throttle();  // the garbage bound: may wait, outside any Guard
    bool unnamed = false;
    CommitOutcome outcome = commit_attempt(engine, tx, unnamed);
    if (outcome.expired_entry != CommitOutcome::kNone) {
      const auto& id = tx.entries()[outcome.expired_entry].id;
      engine.remove_expired(id, engine.index().hashed(id));  // outside the attempt's Guard
      continue;
    }
    if (!unnamed) {
      if (outcome.verdict != Verdict::ok) {
        engine.count_failure(tx.entries()[outcome.failed_entry].id, outcome.verdict);
      }
      return outcome;
    }
  }
}

template <class Engine>
std::vector<typename Engine::record_type> commit_or_throw(
    Engine& engine, const typename Engine::transaction_type& tx) {
  auto outcome = commit_impl(engine, tx);
  if (outcome.verdict != Verdict::ok) {
    const auto& entry = tx.entries()[outcome.failed_entry];
    throw_failed(engine.options(), entry.id, entry.expected, outcome.as_write_outcome());
  }
  return std::move(outcome.records);
}

template <class Engine>
Result<std::vector<typename Engine::record_type>> try_commit_transaction(
    Engine& engine, const typename Engine::transaction_type& tx) {
  using Records = std::vector<typename Engine::record_type>;
  auto outcome = commit_impl(engine, tx);
  if (outcome.verdict == Verdict::ok) return std::move(outcome.records);
  const auto& entry = tx.entries()[outcome.failed_entry];
  const auto& options = engine.options();
  if (outcome.verdict == Verdict::conflict) {
    notify_conflict(options, entry.id, entry.expected, outcome.actual);
    return Result<Records>(conflict_info(options, entry.id, entry.expected, outcome.actual));
  }
  return Result<Records>(not_found_info(options, entry.id, outcome.verdict));
}

}  // namespace vkv::detail
