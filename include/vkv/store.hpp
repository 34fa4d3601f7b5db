// vkv::Store: the versioned key-value store.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "vkv/detail/contention.hpp"
#include "vkv/detail/counters.hpp"
#include "vkv/detail/epoch.hpp"
#include "vkv/detail/key_text.hpp"
#include "vkv/detail/node_pool.hpp"
#include "vkv/detail/record_slot.hpp"
#include "vkv/detail/sharded_index.hpp"
#include "vkv/detail/transaction_descriptor.hpp"
#include "vkv/detail/version_generator.hpp"
#include "vkv/errors.hpp"
#include "vkv/options.hpp"
#include "vkv/record.hpp"
#include "vkv/result.hpp"
#include "vkv/retry.hpp"
#include "vkv/stats.hpp"
#include "vkv/transaction.hpp"

namespace vkv {

// An in-memory map from Key to a versioned record of T. Every record carries a
// Version that changes on every successful write; a write names the version it
// expects and is refused (OptimisticLockError / Errc::conflict) if another writer got
// there first. A write succeeds or fails by one compare-and-swap on the record
// (detail::RecordSlot::install); reads never wait for writers.
//
// Thread safety: a Store is safe for concurrent access from any number of threads
// without any external synchronization or per-thread setup. Every single-record
// operation is linearizable. Destroying a Store while another thread uses it is
// undefined behaviour, as for any object.
//
// Exception safety: an operation that throws or returns an error has changed
// nothing (a version mismatch, std::bad_alloc at any allocation, a throwing mutate).
// Two deliberate exceptions: a throwing transform leaves its write committed, and
// an exception from on_conflict propagates (the operation, having failed, changed
// nothing). try_* calls throw only std::bad_alloc and what user callbacks throw.
//
// Requirements: T and Key are copy-constructible (reads return copies); Hash and
// KeyEqual are default-constructible and may be called concurrently.
template <class T, class Key = std::string, class Hash = std::hash<Key>,
          class KeyEqual = std::equal_to<Key>>
class Store {
 public:
  using record_type = Record<T, Key>;
  using key_type = Key;
  using value_type = T;
  using transaction_type = Transaction<T, Key>;

  explicit Store(StoreOptions options = {})
      : options_(std::move(options)), index_(options_.shards) {}
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  ~Store() {
    // No other thread may use the store now, so the live nodes go at once; nodes
    // replaced earlier are freed by the epoch scheme as usual.
    for (std::size_t i = 0; i < index_.shard_count(); ++i) {
      index_.visit_shard(i, [](const Key&, const slot_type& slot) {
        if (node_type* node = slot.load()) detail::destroy_pooled(node);
      });
    }
  }

  // @name Single-record operations. All are safe to call concurrently with each
  // other and with every other member.

  // Inserts a new record with a fresh version and revision 1.
  // Throws DuplicateKeyError if the id exists (soft-deleted records included).
  record_type create(Key id, T value) {
    std::optional<record_type> out;
    if (!create_impl(std::move(id), std::move(value), out)) {
      throw_error(duplicate_info(out->id));
    }
    return std::move(*out);
  }

  // The record, or nullopt if absent or soft-deleted (unless included).
  std::optional<record_type> find(const Key& id, ReadOptions options = {}) const {
    counters_.add(detail::Counter::reads);
    detail::epoch::Guard guard;
    const auto key = index_.hashed(id);
    const slot_type* slot = index_.find(key);
    if (slot == nullptr) return std::nullopt;
    const node_type* node = slot->load();
    if (node == nullptr || (node->deleted && !options.include_soft_deleted)) return std::nullopt;
    return std::optional<record_type>(std::in_place, RecordOf{id, *node});
  }

  // Zero-copy read: calls f(const RecordView<T, Key>&) once, with the record as it is
  // at one instant, and returns true; returns false without calling f if absent or
  // soft-deleted (unless included). Lock-free and wait-free apart from f: no lock, no
  // atomic read-modify-write. f runs outside any lock and may call back into the
  // store; memory reclamation (of every store) waits while it runs, so keep it short.
  // Counts one read. If f throws, the exception propagates; nothing changed.
  template <class F>
  bool visit(const Key& id, F&& f, ReadOptions options = {}) const {
    counters_.add(detail::Counter::reads);
    detail::epoch::Guard guard;
    const slot_type* slot = index_.find(index_.hashed(id));
    if (slot == nullptr) return false;
    const node_type* node = slot->load();
    if (node == nullptr || (node->deleted && !options.include_soft_deleted)) return false;
    const RecordView<T, Key> view{
        id, node->value, node->version, node->revision, node->deleted != 0, std::nullopt};
    std::invoke(std::forward<F>(f), view);
    return true;
  }

  // Replaces the value iff the current version equals `expected`.
  // Throws EntityNotFoundError if absent, or soft-deleted without
  // options.include_soft_deleted (a soft-deleted record stays deleted when updated
  // with it); OptimisticLockError if the version differs.
  record_type update_with_version(const Key& id, const Version& expected, T value,
                                  WriteOptions options = {}) {
    return committed_or_throw(id, expected,
                              update_impl(id, expected, std::move(value), options, false));
  }

  // Same checks; on success returns transform(committed_record). transform runs after
  // the commit and outside any lock; if it throws, the write stays committed. It may
  // return anything, a std::future included.
  template <class Transform>
  auto update_with_version(const Key& id, const Version& expected, T value, WriteOptions options,
                           Transform&& transform) -> std::invoke_result_t<Transform, record_type> {
    record_type committed = update_with_version(id, expected, std::move(value), options);
    return std::invoke(std::forward<Transform>(transform), std::move(committed));
  }

  // Partial update: calls mutate(T&) on a copy of the current value, only when the
  // version matches, then commits the copy with the same compare-and-swap. If mutate
  // throws, nothing changes and the exception propagates.
  template <class Mutate>
  record_type patch_with_version(const Key& id, const Version& expected, Mutate&& mutate,
                                 WriteOptions options = {}) {
    return committed_or_throw(
        id, expected, patch_impl(id, expected, std::forward<Mutate>(mutate), options, false));
  }

  // Soft delete / undo it: version-checked writes that issue a new version.
  // soft_delete of an already soft-deleted record: EntityNotFoundError.
  // restore of a record that is not soft-deleted: EntityNotFoundError.
  record_type soft_delete(const Key& id, const Version& expected) {
    return committed_or_throw(id, expected, flag_impl(id, expected, WriteKind::soft_delete, false));
  }
  record_type restore(const Key& id, const Version& expected) {
    return committed_or_throw(id, expected, flag_impl(id, expected, WriteKind::restore, false));
  }

  // Hard delete, version-checked; soft-deleted records may be erased (purged). The id
  // may then be created again; the new record's versions are all fresh.
  void erase(const Key& id, const Version& expected) {
    throw_if_failed(id, expected, erase_impl(id, expected, false));
  }

  // @name Non-throwing twins (they may still throw std::bad_alloc and what user
  // callbacks throw). On Errc::conflict, Result::current() is the record as it is now.
  Result<record_type> try_create(Key id, T value) {
    std::optional<record_type> out;
    if (!create_impl(std::move(id), std::move(value), out)) return duplicate_info(out->id);
    return std::move(*out);
  }
  Result<record_type> try_update_with_version(const Key& id, const Version& expected, T value,
                                              WriteOptions options = {}) {
    return to_result(id, expected, update_impl(id, expected, std::move(value), options, true));
  }
  template <class Mutate>
  Result<record_type> try_patch_with_version(const Key& id, const Version& expected,
                                             Mutate&& mutate, WriteOptions options = {}) {
    return to_result(id, expected,
                     patch_impl(id, expected, std::forward<Mutate>(mutate), options, true));
  }
  Result<record_type> try_soft_delete(const Key& id, const Version& expected) {
    return to_result(id, expected, flag_impl(id, expected, WriteKind::soft_delete, true));
  }
  Result<record_type> try_restore(const Key& id, const Version& expected) {
    return to_result(id, expected, flag_impl(id, expected, WriteKind::restore, true));
  }
  // value(): the erased record.
  Result<record_type> try_erase(const Key& id, const Version& expected) {
    return to_result(id, expected, erase_impl(id, expected, true));
  }

  // Read-modify-write: read, mutate a copy, commit with the version read; on a
  // conflict, back off per `policy` and go again from the record the conflict
  // returned (no extra read). mutate may therefore run more than once. Throws
  // EntityNotFoundError if the record is absent or soft-deleted (also when that
  // happens between retries), OptimisticLockError once the retries are spent.
  //
  // With StoreOptions::contention_adaptive, writers of a hot key take turns across one
  // attempt (read, mutate, compare-and-swap); see detail/contention.hpp. mutate then
  // runs holding the key's turn, which is not a lock: other writers wait for it at
  // most StoreOptions::contention_max_wait and then go optimistic, so mutate may still
  // block or call back into the store (the same key included) without a deadlock.
  template <class Mutate>
  record_type update_with_retry(const Key& id, Mutate&& mutate, RetryPolicy policy = {}) {
    if (contention_) return adaptive_update_with_retry(id, mutate, policy);
    // The key is hashed once; each attempt is one index lookup and one compare-and-swap.
    // The value is copied once per attempt, into the node the attempt installs; mutate
    // runs on it outside any Guard. On a conflict the next attempt starts from the
    // winner's value, copied under the Guard of the failed attempt (no extra read).
    const HashedKey key = index_.hashed(id);
    node_ptr fresh;
    Version expected;
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      const node_type* node = slot != nullptr ? slot->load() : nullptr;
      const Verdict verdict = decide(node, Version(), WriteKind::update, false);
      if (verdict != Verdict::ok && verdict != Verdict::conflict) {
        counters_.add(detail::Counter::not_found);
        throw_error(not_found_info(id, verdict));
      }
      fresh = copy_node(node->value, false);
      expected = node->version;
    }
    const int retries = detail::retry_budget(policy);
    Backoff backoff(policy);
    for (;;) {
      std::invoke(mutate, fresh->value);
      node_ptr next;  // on a conflict: a copy of the winner, for the next attempt
      WriteOutcome outcome = write(
          id, key, expected, WriteKind::update, false, false,
          [&](const node_type&) { return std::move(fresh); },
          [&](const node_type& winner) { next = copy_node(winner.value, false); });
      if (outcome.verdict == Verdict::ok) return std::move(*outcome.record);
      if (outcome.verdict != Verdict::conflict) throw_error(not_found_info(id, outcome.verdict));
      before_next_attempt(id, expected, outcome.actual, policy, backoff, retries);
      fresh = std::move(next);
      expected = outcome.actual;
    }
  }

  // @name Batches.

  // One answer per id, in the order asked (each exactly what find(id) would answer
  // at some instant during the call; the batch is not a snapshot: use a transaction of
  // checks to validate one). Counts one read per id asked.
  std::vector<std::optional<record_type>> find_many(std::span<const Key> ids,
                                                    ReadOptions options = {}) const {
    std::vector<std::optional<record_type>> answers;
    answers.reserve(ids.size());
    // One Guard per group of ids instead of one per id (measured in
    // bench/batch_benchmark.cpp); groups keep a huge batch from holding back
    // reclamation for its whole length.
    constexpr std::size_t kGroup = 64;
    for (std::size_t begin = 0; begin < ids.size(); begin += kGroup) {
      const std::size_t end = ids.size() - begin > kGroup ? begin + kGroup : ids.size();
      detail::epoch::Guard guard;
      for (std::size_t i = begin; i < end; ++i) {
        const slot_type* slot = index_.find(index_.hashed(ids[i]));
        const node_type* node = slot != nullptr ? slot->load() : nullptr;
        if (node == nullptr || (node->deleted && !options.include_soft_deleted)) {
          answers.emplace_back();
        } else {
          answers.emplace_back(make_record(ids[i], *node));
        }
      }
    }
    // One counter step for the batch, once it can no longer throw.
    counters_.add(detail::Counter::reads, ids.size());
    return answers;
  }

  struct VersionedWrite {
    Key id;
    Version expected;
    T value;
  };

  // Applies each write independently (like Promise.allSettled): one result per write,
  // in order. A failed write does not stop the others.
  std::vector<Result<record_type>> update_many(std::span<const VersionedWrite> writes) {
    std::vector<Result<record_type>> results;
    results.reserve(writes.size());
    for (const VersionedWrite& write : writes) {
      results.push_back(try_update_with_version(write.id, write.expected, write.value));
    }
    return results;
  }

  // @name Atomic multi-record commit.

  // Applies every check and write of `tx` at one instant, or nothing. Returns the
  // written records in the transaction's order (checks: the record as checked;
  // erases: the record as it was before). Throws like the single-record operations,
  // naming the first entry (in the transaction's order) that failed, and
  // std::invalid_argument if the transaction names an id twice.
  // Concurrency: lock-free on the record slots (a multi-word compare-and-swap with
  // descriptors, detail/transaction_descriptor.hpp); readers never wait for it.
  std::vector<record_type> commit(const transaction_type& tx) {
    CommitOutcome outcome = commit_impl(tx);
    if (outcome.verdict != Verdict::ok) {
      const auto& entry = tx.entries()[outcome.failed_entry];
      throw_if_failed(entry.id, entry.expected, outcome.as_write_outcome());
    }
    return std::move(outcome.records);
  }

  // The non-throwing twin (std::invalid_argument and std::bad_alloc still throw). On
  // failure, Result::current() is empty.
  Result<std::vector<record_type>> try_commit(const transaction_type& tx) {
    CommitOutcome outcome = commit_impl(tx);
    if (outcome.verdict == Verdict::ok) return std::move(outcome.records);
    const auto& entry = tx.entries()[outcome.failed_entry];
    if (outcome.verdict == Verdict::conflict) {
      notify_conflict(entry.id, entry.expected, outcome.actual);
      return Result<std::vector<record_type>>(
          conflict_info(entry.id, entry.expected, outcome.actual));
    }
    return Result<std::vector<record_type>>(not_found_info(entry.id, outcome.verdict));
  }

  // @name Whole-store views.

  // Records not soft-deleted (exact when no write is in flight).
  std::size_t size() const {
    std::int64_t total = 0;
    for (std::size_t i = 0; i < index_.shard_count(); ++i) {
      total += index_.shard(i).live.load(std::memory_order_relaxed);
    }
    return total < 0 ? 0 : static_cast<std::size_t>(total);
  }

  // Counters since construction, summed from per-thread cells.
  StoreStats stats() const { return counters_.sum(); }

  // visit(const record_type&) for every record (soft-deleted ones only when included).
  // Weakly consistent: each record is seen in one of its states at or after the call
  // began; records created or erased during the call may or may not be seen; no
  // record is seen twice. visit runs outside any lock and any Guard and may call back
  // into the store. Takes no lock at all: it copies a slice of a shard's lookup table
  // (kForEachSlice cells) at a time under a Guard, then calls visit on the copies.
  template <class F>
  void for_each(F&& visit, ReadOptions options = {}) const {
    std::vector<record_type> batch;
    // This shard's records already handed out (addresses, compared, never followed).
    std::vector<const slot_type*> seen;
    for (std::size_t i = 0; i < index_.shard_count(); ++i) {
      seen.clear();
      std::size_t sorted = 0;  // seen[0, sorted) is sorted: handed out before a restart
      std::uint64_t generation = 0;
      std::size_t cell = 0;
      do {
        batch.clear();
        {
          detail::epoch::Guard guard;
          cell = index_.scan_shard(
              i, generation, cell, kForEachSlice,
              [&](const Key& id, const slot_type& slot) {
                if (std::binary_search(seen.begin(), seen.begin() + sorted, &slot)) return;
                const node_type* node = slot.load();
                if (node != nullptr && (!node->deleted || options.include_soft_deleted)) {
                  batch.push_back(make_record(id, *node));
                  seen.push_back(&slot);
                }
              },
              [&] {
                // The shard's table was rebuilt (it grew) since the last slice: go over
                // the new one from its start, skipping the records already handed out.
                std::sort(seen.begin(), seen.end());
                sorted = seen.size();
              });
        }
        for (const record_type& record : batch) std::invoke(visit, record);
      } while (cell != 0);
    }
  }

  const StoreOptions& options() const noexcept { return options_; }

 private:
  using node_type = detail::Node<T>;
  using slot_type = detail::RecordSlot<T>;
  using index_type = detail::ShardedIndex<Key, slot_type, Hash, KeyEqual>;
  using HashedKey = typename index_type::HashedKey;

  // Cells of a shard's lookup table that for_each copies under one Guard.
  static constexpr std::size_t kForEachSlice = 256;

  enum class WriteKind { update, soft_delete, restore, erase };
  enum class Verdict { ok, absent, deleted, not_deleted, conflict };

  struct WriteOutcome {
    Verdict verdict = Verdict::ok;
    Version actual;                     // conflict: the version that won
    std::optional<record_type> record;  // ok: the written (or erased) record;
                                        // conflict: the winner, when asked for
  };

  static record_type make_record(const Key& id, const node_type& node) {
    return record_type{id, node.value, node.version, node.revision, node.deleted != 0};
  }

  // make_record for emplace() and std::in_place: converts to the record where the
  // record is to live, so the key and value are copied once, never moved afterwards
  // (the move of the key's std::string showed as a second memcpy per find).
  struct RecordOf {
    const Key& id;
    const node_type& node;
    operator record_type() const { return make_record(id, node); }  // NOLINT: implicit by design
  };

  // An owned node not yet published (detail/node_pool.hpp recycles their memory).
  using node_ptr = std::unique_ptr<node_type, detail::PooledDelete>;

  static node_ptr make_node(T value, bool deleted) {
    return node_ptr(
        detail::make_pooled<node_type>(std::move(value), Version(), std::uint64_t{0}, deleted));
  }
  // A node copying `value` in place (no temporary T, no move).
  static node_ptr copy_node(const T& value, bool deleted) {
    return node_ptr(detail::make_pooled<node_type>(value, Version(), std::uint64_t{0}, deleted));
  }

  // The one decision of every version-checked write, made on the node the
  // compare-and-swap compares (or, after a failed one, on the node that won).
  static Verdict decide(const node_type* node, const Version& expected, WriteKind kind,
                        bool include_deleted) noexcept {
    if (node == nullptr) return Verdict::absent;
    switch (kind) {
      case WriteKind::update:
        if (node->deleted && !include_deleted) return Verdict::deleted;
        break;
      case WriteKind::soft_delete:
        if (node->deleted) return Verdict::deleted;
        break;
      case WriteKind::restore:
        if (!node->deleted) return Verdict::not_deleted;
        break;
      case WriteKind::erase:
        break;
    }
    return node->version == expected ? Verdict::ok : Verdict::conflict;
  }

  // The write path shared by update, patch, soft delete, restore and erase.
  // build(current) makes the successor node (value and deleted flag set), or returns
  // nullptr to erase. Everything that can throw happens before the compare-and-swap;
  // after it, nothing can fail.
  template <class Build>
  WriteOutcome write(const Key& id, const Version& expected, WriteKind kind, bool include_deleted,
                     bool want_copies, Build&& build) {
    return write(id, index_.hashed(id), expected, kind, include_deleted, want_copies,
                 std::forward<Build>(build), [](const node_type&) {});
  }

  // The same, for a key hashed already; lost(winner) runs under the Guard when the
  // compare-and-swap lost to another writer (update_with_retry copies the winner).
  template <class Build, class Lost>
  WriteOutcome write(const Key& id, const HashedKey& key, const Version& expected, WriteKind kind,
                     bool include_deleted, bool want_copies, Build&& build, Lost&& lost) {
    detail::epoch::throttle();  // the garbage bound: may wait, outside any Guard
    const Version fresh_version = detail::next_version();
    WriteOutcome outcome;
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      node_type* current = slot != nullptr ? slot->load_for_write() : nullptr;
      node_ptr fresh;
      bool built = false;
      for (;;) {
        outcome.verdict = decide(current, expected, kind, include_deleted);
        if (outcome.verdict != Verdict::ok) break;
        if (!built) {
          // A node with our expected version is the node we first saw (versions are
          // unique), so what we build from it stays valid if we come back here.
          fresh = build(*current);
          built = true;
          if (fresh) {
            fresh->version = fresh_version;
            fresh->revision = current->revision + 1;
            outcome.record.emplace(RecordOf{id, *fresh});
          } else if (want_copies) {
            outcome.record.emplace(RecordOf{id, *current});
          }
        }
        // Room to retire the replaced node and an erased index entry without allocating
        // after the CAS (may throw: nothing has changed yet).
        detail::epoch::reserve(2);
        std::uintptr_t observed;
        if (slot->install(current, fresh.get(), observed)) {  // <- the write is decided here
          const int now_live = fresh && !fresh->deleted ? 1 : 0;
          fresh.release();
          const int was_live = current->deleted ? 0 : 1;
          detail::retire_pooled(current);
          if (now_live != was_live) {
            // relaxed: a statistic, exact once writers are quiet.
            index_.shard_for(key).live.fetch_add(now_live - was_live, std::memory_order_relaxed);
          }
          if (kind == WriteKind::erase) index_.remove_if_erased(key, slot);
          counters_.add(detail::Counter::writes);
          return outcome;
        }
        if (detail::is_entry_word(observed)) {
          // A commit took the slot between our load and our CAS: resolve it and decide
          // again on the record's state (the commit may yet fail and leave it as is).
          current = slot->load_for_write();
          continue;
        }
        // Another writer won; its node decides what we report.
        current = detail::word_node<T>(observed);
        outcome.verdict = decide(current, expected, kind, include_deleted);
        // The winner carries a fresh version, so it cannot match (RecordSlot invariant 3).
        if (outcome.verdict == Verdict::ok) outcome.verdict = Verdict::conflict;
        break;
      }
      if (outcome.verdict != Verdict::ok) outcome.record.reset();
      if (outcome.verdict == Verdict::conflict) {
        outcome.actual = current->version;
        if (want_copies) outcome.record.emplace(make_record(id, *current));
        lost(*current);
      }
    }
    count_failure(outcome.verdict);
    return outcome;
  }

  WriteOutcome update_impl(const Key& id, const Version& expected, T value, WriteOptions options,
                           bool want_copies) {
    auto prepared = make_node(std::move(value), false);
    return write(id, expected, WriteKind::update, options.include_soft_deleted, want_copies,
                 [&](const node_type& current) {
                   prepared->deleted = current.deleted;  // stays soft-deleted if it was
                   return std::move(prepared);
                 });
  }

  template <class Mutate>
  WriteOutcome patch_impl(const Key& id, const Version& expected, Mutate&& mutate,
                          WriteOptions options, bool want_copies) {
    node_ptr prepared;
    WriteOutcome early;
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(index_.hashed(id));
      const node_type* current = slot != nullptr ? slot->load() : nullptr;
      early.verdict = decide(current, expected, WriteKind::update, options.include_soft_deleted);
      if (early.verdict == Verdict::ok) {
        prepared = copy_node(current->value, false);
      } else if (early.verdict == Verdict::conflict) {
        early.actual = current->version;
        if (want_copies) early.record.emplace(make_record(id, *current));
      }
    }
    if (early.verdict != Verdict::ok) {
      count_failure(early.verdict);
      return early;
    }
    std::invoke(mutate, prepared->value);  // outside any Guard or lock; may throw
    return write(id, expected, WriteKind::update, options.include_soft_deleted, want_copies,
                 [&](const node_type& current) {
                   prepared->deleted = current.deleted;
                   return std::move(prepared);
                 });
  }

  WriteOutcome flag_impl(const Key& id, const Version& expected, WriteKind kind, bool want_copies) {
    return write(id, expected, kind, false, want_copies, [&](const node_type& current) {
      return copy_node(current.value, kind == WriteKind::soft_delete);
    });
  }

  WriteOutcome erase_impl(const Key& id, const Version& expected, bool want_copies) {
    return write(id, expected, WriteKind::erase, true, want_copies,
                 [](const node_type&) { return node_ptr(); });
  }

  // Inserts, or revives an erased slot. On a duplicate, out holds the id only.
  bool create_impl(Key id, T value, std::optional<record_type>& out) {
    detail::epoch::throttle();
    auto fresh = make_node(std::move(value), false);
    fresh->version = detail::next_version();
    fresh->revision = 1;
    out.emplace(record_type{std::move(id), fresh->value, fresh->version, 1, false});
    detail::epoch::reserve(2);  // the map may free a node it built for a lost insert
    const HashedKey key = index_.hashed(out->id);
    node_type* existing = nullptr;
    detail::epoch::Guard guard;
    if (index_.insert_or_revive(key, fresh.get(), existing) == index_type::InsertOutcome::exists) {
      return false;
    }
    fresh.release();
    // relaxed: a statistic, exact once writers are quiet.
    index_.shard_for(key).live.fetch_add(1, std::memory_order_relaxed);
    counters_.add(detail::Counter::creates);
    return true;
  }

  // update_with_retry in contention-adaptive mode. The loop of the optimistic one, plus:
  // before each attempt, a hot key's writer waits (bounded) for the key's turn and then
  // re-reads (the record moved on while it waited); after each attempt the outcome
  // feeds the key's heat estimate. The compare-and-swap still decides every write.
  template <class Mutate>
  record_type adaptive_update_with_retry(const Key& id, Mutate& mutate, const RetryPolicy& policy) {
    const std::size_t stripe = detail::ContentionTable::stripe_of(index_.hashed(id).hash);
    const int retries = detail::retry_budget(policy);
    Backoff backoff(policy);
    // The record to go from is constructed in place (no optional<Record> moved around
    // on the cold path: that move cost a store-forwarding stall per write).
    detail::ContentionTable::Turn turn = contention_->enter(stripe);
    WriteOutcome current = read_for_write(id);
    for (;;) {
      // No record: read_for_write found none (a conflict always carries the winner).
      if (!current.record) {
        counters_.add(detail::Counter::not_found);
        throw_error(not_found_info(id, current.verdict));
      }
      if (turn.held()) counters_.add(detail::Counter::turns);
      T value = current.record->value;
      std::invoke(mutate, value);
      const Version expected = current.record->version;
      WriteOutcome outcome = update_impl(id, expected, std::move(value), WriteOptions{}, true);
      const bool conflict = outcome.verdict == Verdict::conflict;
      // A turn already counted its entry; it adds only conflicts from outsiders.
      if (!turn.held() || conflict) contention_->record(stripe, conflict);
      turn.release();  // before any callback below
      if (outcome.verdict == Verdict::ok) return std::move(*outcome.record);
      if (!conflict) throw_error(not_found_info(id, outcome.verdict));
      before_next_attempt(id, expected, outcome.actual, policy, backoff, retries);
      turn = contention_->enter(stripe);
      // With a turn, re-read: the record moved on while we waited. Without one, go
      // from the winner the conflict returned, as the optimistic loop does.
      current = turn.held() ? read_for_write(id) : std::move(outcome);
    }
  }

  static std::unique_ptr<detail::ContentionTable> make_contention_table(
      const StoreOptions& options) {
    if (!options.contention_adaptive) return nullptr;
    return std::make_unique<detail::ContentionTable>(options.contention_threshold,
                                                     options.contention_max_wait);
  }

  struct CommitOutcome {
    Verdict verdict = Verdict::ok;
    std::size_t failed_entry = 0;
    Version actual;
    std::vector<record_type> records;
    WriteOutcome as_write_outcome() const {
      WriteOutcome outcome;
      outcome.verdict = verdict;
      outcome.actual = actual;
      return outcome;
    }
  };

  // Defined in detail/store_commit.hpp (the commit protocol's owner side).
  void reject_duplicate_ids(const transaction_type& tx) const;
  CommitOutcome commit_attempt(const transaction_type& tx, bool& unnamed);
  CommitOutcome commit_impl(const transaction_type& tx);

  // After a read-modify-write attempt lost its version check: reports the conflict
  // (on_conflict), throws OptimisticLockError when the retries are spent, else counts
  // the retry and backs off per `policy`. Shared by both update_with_retry loops.
  void before_next_attempt(const Key& id, const Version& expected, const Version& actual,
                           const RetryPolicy& policy, Backoff& backoff, int retries) {
    notify_conflict(id, expected, actual);
    if (backoff.retries_done() >= retries) {
      counters_.add(detail::Counter::retries_exhausted);
      throw OptimisticLockError(options_.entity_type, detail::key_text(id), expected, actual);
    }
    counters_.add(detail::Counter::retries);
    detail::before_retry(policy, backoff);
  }

  // The record to start a read-modify-write from: ok with a copy, or not found.
  WriteOutcome read_for_write(const Key& id) const {
    WriteOutcome outcome;
    detail::epoch::Guard guard;
    const slot_type* slot = index_.find(index_.hashed(id));
    const node_type* node = slot != nullptr ? slot->load() : nullptr;
    if (node == nullptr) {
      outcome.verdict = Verdict::absent;
    } else if (node->deleted) {
      outcome.verdict = Verdict::deleted;
    } else {
      outcome.record.emplace(make_record(id, *node));
    }
    return outcome;
  }

  void count_failure(Verdict verdict) {
    if (verdict == Verdict::conflict) {
      counters_.add(detail::Counter::conflicts);
    } else if (verdict != Verdict::ok) {
      counters_.add(detail::Counter::not_found);
    }
  }

  ErrorInfo base_info(Errc code, const Key& id) const {
    ErrorInfo info;
    info.code = code;
    info.entity_type = options_.entity_type;
    info.entity_id = detail::key_text(id);
    return info;
  }
  ErrorInfo duplicate_info(const Key& id) const { return base_info(Errc::duplicate_key, id); }
  ErrorInfo not_found_info(const Key& id, Verdict verdict) const {
    ErrorInfo info = base_info(Errc::not_found, id);
    info.reason = verdict == Verdict::deleted       ? "soft-deleted"
                  : verdict == Verdict::not_deleted ? "not soft-deleted"
                                                    : "not found";
    return info;
  }
  ErrorInfo conflict_info(const Key& id, const Version& expected, const Version& actual) const {
    ErrorInfo info = base_info(Errc::conflict, id);
    info.expected = expected;
    info.actual = actual;
    return info;
  }

  // Runs on_conflict: on the failing thread, before the call returns, outside any
  // Guard or lock. If it throws, the exception propagates.
  void notify_conflict(const Key& id, const Version& expected, const Version& actual) const {
    if (options_.on_conflict) {
      options_.on_conflict(
          ConflictEvent{options_.entity_type, detail::key_text(id), expected, actual});
    }
  }

  // Throws what a failed outcome means; returns the written record otherwise.
  record_type committed_or_throw(const Key& id, const Version& expected, WriteOutcome&& outcome) {
    throw_if_failed(id, expected, outcome);
    return std::move(*outcome.record);
  }
  void throw_if_failed(const Key& id, const Version& expected, const WriteOutcome& outcome) {
    if (outcome.verdict == Verdict::ok) return;
    if (outcome.verdict == Verdict::conflict) {
      notify_conflict(id, expected, outcome.actual);
      throw_error(conflict_info(id, expected, outcome.actual));
    }
    throw_error(not_found_info(id, outcome.verdict));
  }

  Result<record_type> to_result(const Key& id, const Version& expected, WriteOutcome&& outcome) {
    switch (outcome.verdict) {
      case Verdict::ok:
        return std::move(*outcome.record);
      case Verdict::conflict:
        notify_conflict(id, expected, outcome.actual);
        return Result<record_type>(conflict_info(id, expected, outcome.actual),
                                   std::move(outcome.record));
      default:
        return Result<record_type>(not_found_info(id, outcome.verdict));
    }
  }

  StoreOptions options_;
  index_type index_;
  mutable detail::StoreCounters counters_;
  // Contention-adaptive mode's turns and heat; null when the mode is off. Initialised
  // here (after options_) so that no constructor needs to mention it.
  std::unique_ptr<detail::ContentionTable> contention_ = make_contention_table(options_);
};

}  // namespace vkv

// Out-of-class members, one concern a file.
#include "vkv/detail/store_commit.hpp"  // IWYU pragma: export
