// Internal (users never include this directly; vkv/store.hpp includes it): the owner's
// side of an atomic multi-record commit, Store::commit_impl and its helpers. The
// descriptor and how other threads resolve it: detail/transaction_descriptor.hpp.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::reject_duplicate_ids(const transaction_type& tx) const {
  const auto& entries = tx.entries();
  const KeyEqual equal{};
  auto reject = [&](const Key& id) {
    throw std::invalid_argument("vkv: transaction names " + options_.entity_type + " " +
                                detail::key_text(id) + " twice");
  };
  // Small transactions (the common case) compare pairwise: no allocation and no second
  // hashing of every key (a 2-entry commit spent ~9% of its time in the set below).
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
// Returns ok, a verdict naming the first failing entry, or `aborted` == true when
// another thread decided the commit failed before it could finish (then nothing
// changed and the caller tries again).
template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::commit_attempt(const transaction_type& tx, bool& aborted)
    -> CommitOutcome {
  using Op = typename transaction_type::Op;
  using Descriptor = detail::TxDescriptor<T>;
  const auto& entries = tx.entries();
  const std::size_t size = entries.size();
  aborted = false;
  CommitOutcome outcome;
  auto descriptor = std::make_unique<Descriptor>(size);
  std::vector<node_ptr> fresh(size);
  std::vector<std::optional<record_type>> records(size);
  std::vector<const slot_type*> slots(size, nullptr);
  std::vector<HashedKey> keys;
  keys.reserve(size);
  for (const auto& entry : entries) keys.push_back(index_.hashed(entry.id));
  std::vector<Version> versions(size);
  for (std::size_t i = 0; i < size; ++i) {
    if (entries[i].op == Op::update || entries[i].op == Op::soft_delete) {
      versions[i] = detail::next_version();
    }
  }

  detail::epoch::Guard guard;
  std::size_t installed = 0;
  // Releases the installed entries to the nodes the decision selected.
  auto release = [&](bool succeeded) noexcept {
    for (std::size_t i = 0; i < installed; ++i) {
      detail::TxEntry<T>& slot_entry = descriptor->entries[i];
      node_type* selected = succeeded ? slot_entry.desired : slot_entry.expected;
      std::uintptr_t seen = detail::entry_word(&slot_entry);
      // acq_rel: as in resolve_entry(); a failure means a helper released it already.
      if (slots[i]->word.compare_exchange_strong(seen, detail::node_word(selected),
                                                 std::memory_order_acq_rel,
                                                 std::memory_order_acquire) &&
          succeeded && slot_entry.desired != slot_entry.expected) {
        detail::epoch::retire(slot_entry.expected);
      }
    }
  };
  auto abort = [&]() noexcept {
    detail::TxStatus expected_status = detail::TxStatus::undecided;
    // acq_rel: publishes the decision; on failure someone decided before us.
    descriptor->status.compare_exchange_strong(expected_status, detail::TxStatus::failed,
                                               std::memory_order_acq_rel,
                                               std::memory_order_acquire);
    return descriptor->status.load(std::memory_order_acquire);
  };
  try {
    // Allocated before the first install: once every entry is installed, a helper may
    // decide success at any moment, and then nothing here may throw (the commit would
    // report failure while helpers publish it, and free nodes the slots hold).
    outcome.records.reserve(size);
    for (std::size_t i = 0; i < size && outcome.verdict == Verdict::ok; ++i) {
      const auto& entry = entries[i];
      detail::TxEntry<T>& slot_entry = descriptor->entries[i];
      const slot_type* slot = index_.find(keys[i]);
      slots[i] = slot;
      node_type* current = slot != nullptr ? slot->load_for_write() : nullptr;
      node_type* built_from = nullptr;
      for (;;) {
        const WriteKind kind = entry.op == Op::erase         ? WriteKind::erase
                               : entry.op == Op::soft_delete ? WriteKind::soft_delete
                                                             : WriteKind::update;
        outcome.verdict = decide(current, entry.expected, kind, /*include_deleted=*/false);
        if (outcome.verdict != Verdict::ok) {
          outcome.failed_entry = i;
          if (outcome.verdict == Verdict::conflict) outcome.actual = current->version;
          break;
        }
        if (built_from != current) {  // everything that can throw, before installing
          slot_entry.expected = current;
          switch (entry.op) {
            case Op::check:
              slot_entry.desired = current;
              records[i].emplace(make_record(entry.id, *current));
              break;
            case Op::erase:
              slot_entry.desired = nullptr;
              records[i].emplace(make_record(entry.id, *current));
              break;
            case Op::update:
            case Op::soft_delete:
              fresh[i] = entry.op == Op::update ? make_node(*entry.value, false)
                                                : make_node(current->value, true);
              fresh[i]->version = versions[i];
              fresh[i]->revision = current->revision + 1;
              slot_entry.desired = fresh[i].get();
              records[i].emplace(make_record(entry.id, *fresh[i]));
              break;
          }
          built_from = current;
        }
        // Before the last install, everything deciding and releasing will retire
        // (below), for the same reason as records above.
        detail::epoch::reserve(i + 1 == size ? 2 * size + 1 : 2);
        std::uintptr_t seen = detail::node_word(current);
        // acq_rel: release publishes the entry (and the nodes it points to) to threads
        // that meet it; acquire on failure lets us read what is there instead.
        if (slot->word.compare_exchange_strong(seen, detail::entry_word(&slot_entry),
                                               std::memory_order_acq_rel,
                                               std::memory_order_acquire)) {
          ++installed;
          // release: a helper that sees installed == size (acquire) may decide success.
          descriptor->installed.store(installed, std::memory_order_release);
          break;
        }
        current = slot->load_for_write();
      }
      // Someone met one of our entries and aborted us: stop, undo, try again.
      if (descriptor->status.load(std::memory_order_acquire) != detail::TxStatus::undecided) break;
    }
    // What deciding and releasing will need, allocated before anything is decided:
    // a retirement per replaced node, one per index entry an erase drops, plus the
    // descriptor (at most 2 * installed + 1). With every entry installed this was
    // reserved before the last install, so it cannot throw here.
    detail::epoch::reserve(2 * installed + 1);
  } catch (...) {
    // Out of memory (or a throwing copy) before we finished installing: nothing may
    // change. installed < size here, so nobody can have decided success.
    abort();
    release(false);
    detail::epoch::retire(descriptor.release());  // capacity reserved in the loop
    throw;
  }

  // A failing entry seen after another thread aborted us need not have failed while
  // the entries before it held (they may have changed since the abort released them),
  // so that verdict is not linearizable: try again instead. Status still undecided
  // here (acquire, after the failing load) means every installed entry was in place
  // when the failing entry was read, so the verdict holds at that instant.
  const bool stale_verdict =
      outcome.verdict != Verdict::ok && installed > 0 &&
      descriptor->status.load(std::memory_order_acquire) != detail::TxStatus::undecided;
  // Decide. On our own failure we abort; otherwise success unless someone aborted us.
  const detail::TxStatus status = outcome.verdict == Verdict::ok && installed == size
                                      ? detail::decide_commit(*descriptor)
                                      : abort();
  const bool succeeded = status == detail::TxStatus::succeeded;
  release(succeeded);
  std::uint64_t writes = 0;
  if (succeeded) {
    for (std::size_t i = 0; i < size; ++i) {
      const detail::TxEntry<T>& slot_entry = descriptor->entries[i];
      if (entries[i].op == Op::check) continue;
      ++writes;
      fresh[i].release();  // now owned by the slot (or already retired by a helper)
      const int was_live = slot_entry.expected->deleted ? 0 : 1;
      const int now_live = slot_entry.desired != nullptr && !slot_entry.desired->deleted ? 1 : 0;
      if (now_live != was_live) {
        // relaxed: a statistic, exact once writers are quiet.
        index_.shard_for(keys[i]).live.fetch_add(now_live - was_live, std::memory_order_relaxed);
      }
      if (entries[i].op == Op::erase) index_.remove_if_erased(keys[i], slots[i]);
    }
    counters_.add(detail::Counter::writes, writes);
    for (auto& record : records) outcome.records.push_back(std::move(*record));
  } else if (outcome.verdict == Verdict::ok || stale_verdict) {
    aborted = true;  // undecided entries were ours; nothing changed
  }
  // Helpers may still hold the descriptor (under their Guards): retire it.
  detail::epoch::retire(descriptor.release());
  return outcome;
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::commit_impl(const transaction_type& tx) -> CommitOutcome {
  reject_duplicate_ids(tx);
  if (tx.empty()) return CommitOutcome{};
  // An attempt is aborted only when another thread met one of our entries before
  // we installed them all; it then made progress itself. Back off (randomised,
  // capped) so that overlapping commits do not keep aborting each other.
  RetryPolicy backoff_policy;
  backoff_policy.retry_delay = std::chrono::nanoseconds(200);
  backoff_policy.max_delay = std::chrono::microseconds(20);
  backoff_policy.jitter = Jitter::full;
  Backoff backoff(backoff_policy);
  for (;;) {
    bool aborted = false;
    CommitOutcome outcome = commit_attempt(tx, aborted);
    if (!aborted) {
      count_failure(outcome.verdict);
      return outcome;
    }
    detail::wait_for(backoff.next());
  }
}

}  // namespace vkv
