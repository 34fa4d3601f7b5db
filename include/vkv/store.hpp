// vkv::Store: the versioned key-value store. This header is the contract; every member
// forwards to one engine, detail::StoreEngine (detail/store_engine.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vkv/detail/store_engine.hpp"
#include "vkv/errors.hpp"
#include "vkv/options.hpp"
#include "vkv/record.hpp"
#include "vkv/result.hpp"
#include "vkv/retry.hpp"
#include "vkv/stats.hpp"
#include "vkv/transaction.hpp"

namespace vkv {

// An in-memory map from Key to a versioned record of T. Every record carries a Version
// that changes on every successful write; a write names the version it expects and is
// refused (OptimisticLockError / Errc::conflict) if another writer got there first. A
// write succeeds or fails by one compare-and-swap on the record (StoreCore::install,
// detail/store_core.hpp); reads never wait for writers of the record.
//
// Thread safety: a Store is safe for concurrent access from any number of threads
// without any external synchronization or per-thread setup. Every single-record
// operation is linearizable. Destroying a Store while another thread uses it is
// undefined behaviour, as for any object. Progress and waiting, operation by operation:
// docs/design.md, "Progress and waiting, per operation".
//
// Exception safety: an operation that throws or returns an error has changed nothing
// (a version mismatch, std::bad_alloc at any allocation, a throwing mutate).
// Deliberate exceptions: a throwing transform leaves its write committed; an exception
// from on_conflict propagates (the operation, having failed, changed nothing); an
// exception from on_evict propagates after the removal it reports (and after the
// operation's own write, if that succeeded). try_* calls throw only std::bad_alloc and
// what user callbacks throw.
//
// Expiry: a record whose TTL has passed is absent to every operation; an operation that
// meets one removes it first (an erase decided by the compare-and-swap at its node,
// which runs on_evict), so a read may write (detail/expiry.hpp).
//
// Requirements: T and Key are copy-constructible (reads return copies); Hash and
// KeyEqual are default-constructible and may be called concurrently.
template <class T, class Key = std::string, class Hash = std::hash<Key>,
          class KeyEqual = std::equal_to<Key>>
class Store {
  using engine_type = detail::StoreEngine<T, Key, Hash, KeyEqual>;

 public:
  using record_type = Record<T, Key>;
  using key_type = Key;
  using value_type = T;
  using transaction_type = Transaction<T, Key>;

  explicit Store(StoreOptions options = {}) : engine_(std::move(options)) {}
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // @name Single-record operations. All are safe to call concurrently with each other
  // and with every other member.

  // Inserts a new record with a fresh version and revision 1. An expired record does
  // not exist (the create replaces it). options.ttl: see WriteOptions (only ttl is used).
  // Returns: the record created. Throws: DuplicateKeyError if the id exists
  // (soft-deleted records included).
  record_type create(Key id, T value, WriteOptions options = {}) {
    return engine_.create(std::move(id), std::move(value), options);
  }

  // Returns: the record, or nullopt if absent, expired or soft-deleted (unless
  // included). Progress: takes no lock and waits for nothing; counts one read; in a
  // bounded store writes the record's use stamp once per LRU clock tick. An expired
  // record met is removed first (an erase: it writes, may wait for the index map's
  // locks for one map operation, and runs on_evict), then the slot is read again.
  std::optional<record_type> find(const Key& id, ReadOptions options = {}) const {
    return engine_.find(id, options);
  }

  // Zero-copy read: calls f(const RecordView<T, Key>&) once, with the record as it is
  // at one instant. Returns: true, or false without calling f if absent or soft-deleted
  // (unless included). Progress: as find(). f runs inside the read's Guard but outside
  // any lock and may call back into the store; memory reclamation (of every store)
  // waits while it runs, so keep it short. Throws: what f throws (nothing changed).
  template <class F>
  bool visit(const Key& id, F&& f, ReadOptions options = {}) const {
    return engine_.visit(id, std::forward<F>(f), options);
  }

  // Replaces the value iff the current version equals `expected` (a soft-deleted
  // record stays deleted when updated with options.include_soft_deleted).
  // Returns: the committed record. Throws: EntityNotFoundError if absent, or
  // soft-deleted without options.include_soft_deleted; OptimisticLockError if the
  // version differs.
  record_type update_with_version(const Key& id, const Version& expected, T value,
                                  WriteOptions options = {}) {
    return engine_.update_with_version(id, expected, std::move(value), options);
  }

  // Same checks. Returns: transform(committed_record), run after the commit and outside
  // any lock (it may return anything, a std::future included). Throws: as above, and
  // what transform throws (the write stays committed).
  template <class Transform>
  auto update_with_version(const Key& id, const Version& expected, T value, WriteOptions options,
                           Transform&& transform) -> std::invoke_result_t<Transform, record_type> {
    return std::invoke(std::forward<Transform>(transform),
                       update_with_version(id, expected, std::move(value), options));
  }

  // Partial update: calls mutate(T&) on a copy of the current value, only when the
  // version matches, then commits the copy with the same compare-and-swap.
  // Returns: the committed record. Throws: as update_with_version, and what mutate
  // throws (nothing changed).
  template <class Mutate>
  record_type patch_with_version(const Key& id, const Version& expected, Mutate&& mutate,
                                 WriteOptions options = {}) {
    return engine_.patch_with_version(id, expected, mutate, options);
  }

  // Soft delete / undo it: version-checked writes that issue a new version.
  // Throws: EntityNotFoundError for soft_delete of a soft-deleted record and restore of
  // one that is not; otherwise as update_with_version.
  record_type soft_delete(const Key& id, const Version& expected) {
    return engine_.set_deleted(id, expected, detail::WriteKind::soft_delete);
  }
  record_type restore(const Key& id, const Version& expected) {
    return engine_.set_deleted(id, expected, detail::WriteKind::restore);
  }

  // Hard delete, version-checked; soft-deleted records may be erased (purged). The id
  // may then be created again; the new record's versions are all fresh.
  // Throws: as update_with_version.
  void erase(const Key& id, const Version& expected) { engine_.erase(id, expected); }

  // @name Non-throwing twins (they may still throw std::bad_alloc and what user
  // callbacks throw). On Errc::conflict, Result::current() is the record as it is now.
  Result<record_type> try_create(Key id, T value) {
    return engine_.try_create(std::move(id), std::move(value));
  }
  Result<record_type> try_update_with_version(const Key& id, const Version& expected, T value,
                                              WriteOptions options = {}) {
    return engine_.try_update_with_version(id, expected, std::move(value), options);
  }
  template <class Mutate>
  Result<record_type> try_patch_with_version(const Key& id, const Version& expected,
                                             Mutate&& mutate, WriteOptions options = {}) {
    return engine_.try_patch_with_version(id, expected, mutate, options);
  }
  Result<record_type> try_soft_delete(const Key& id, const Version& expected) {
    return engine_.try_flag(id, expected, detail::WriteKind::soft_delete);
  }
  Result<record_type> try_restore(const Key& id, const Version& expected) {
    return engine_.try_flag(id, expected, detail::WriteKind::restore);
  }
  // value(): the erased record.
  Result<record_type> try_erase(const Key& id, const Version& expected) {
    return engine_.try_flag(id, expected, detail::WriteKind::erase);
  }

  // Read-modify-write: read, mutate a copy, commit with the version read; on a
  // conflict, back off per `policy` and go again from the record the conflict returned
  // (no extra read); mutate may therefore run more than once.
  // Returns: the committed record. Throws: EntityNotFoundError if the record is absent
  // or soft-deleted (also when that happens between retries), OptimisticLockError once
  // the retries are spent.
  // With StoreOptions::contention_adaptive, writers of a hot key take turns across one
  // attempt (detail/contention.hpp); mutate then runs holding the key's turn, which is
  // not a lock: other writers wait for it at most StoreOptions::contention_max_wait, so
  // mutate may block or call back into the store without a deadlock.
  template <class Mutate>
  record_type update_with_retry(const Key& id, Mutate&& mutate, RetryPolicy policy = {}) {
    return engine_.update_with_retry(id, mutate, policy);
  }

  // @name Batches.

  // Returns: one answer per id, in the order asked, each exactly what find(id) would
  // answer at some instant during the call (not a snapshot: use a transaction of checks
  // to validate one). Progress: as find(), per id; counts one read per id.
  std::vector<std::optional<record_type>> find_many(std::span<const Key> ids,
                                                    ReadOptions options = {}) const {
    return engine_.find_many(ids, options);
  }

  struct VersionedWrite {
    Key id;
    Version expected;
    T value;
  };

  // Applies each write independently (like Promise.allSettled). Returns: one result per
  // write, in order; a failed write does not stop the others.
  std::vector<Result<record_type>> update_many(std::span<const VersionedWrite> writes) {
    std::vector<Result<record_type>> results;
    results.reserve(writes.size());
    for (const VersionedWrite& write : writes) {
      results.push_back(try_update_with_version(write.id, write.expected, write.value));
    }
    return results;
  }

  // @name Atomic multi-record commit (docs/commits.md).

  // Applies every check and write of `tx` at one instant, or nothing. Returns: the
  // written records in the transaction's order (checks: the record as checked; erases:
  // the record as it was before). Throws: like the single-record operations, naming the
  // first entry (in the transaction's order) that failed; std::invalid_argument if the
  // transaction names an id twice. Progress: lock-free on the record slots (a
  // multi-word compare-and-swap with descriptors, detail/transaction_descriptor.hpp);
  // readers never wait for it.
  std::vector<record_type> commit(const transaction_type& tx) { return engine_.commit(tx); }

  // The non-throwing twin (std::invalid_argument and std::bad_alloc still throw). On
  // failure, Result::current() is empty.
  Result<std::vector<record_type>> try_commit(const transaction_type& tx) {
    return engine_.try_commit(tx);
  }

  // @name Cache layer (docs/guide.md, "A cache"; docs/design.md, "Cache layer").

  // Unconditional write (a cache fill): creates the record (revision 1) or replaces it
  // whatever its version and state (revision + 1, deleted = false; an expired one
  // counts as absent: revision 1), always with a fresh version, decided by the same
  // compare-and-swap as every write (a lost one goes again from the winner). Counts as
  // a create or a write. Expiry from options.ttl, else StoreOptions::default_ttl.
  // Returns: the record written.
  record_type put(Key id, T value, WriteOptions options = {}) {
    return engine_.put(std::move(id), std::move(value), options);
  }

  // Returns: the record if it exists; otherwise creates it from make() (T make()) and
  // returns it. Racing callers on one absent id all return the one record that was
  // created; a losing caller's value is discarded. make runs outside any lock and Guard
  // and may run in several racing callers. Throws: DuplicateKeyError for a soft-deleted
  // id (as create); what make throws (nothing changed). Counts one read, and a create
  // if it made one.
  template <class Make>
  record_type find_or_create(Key id, Make&& make) {
    return engine_.find_or_create(std::move(id), std::forward<Make>(make));
  }

  // Returns: the n keys with the most conflicts since construction, most first, with
  // their counts, from a striped Space-Saving sketch updated only when a version check
  // fails (error bounds: detail/hot_keys.hpp). Progress: locks each stripe in turn.
  std::vector<HotKey> hot_keys(std::size_t n) const { return engine_.hot_keys(n); }

  // @name Whole-store views.

  // Returns: the records not soft-deleted (exact when no write is in flight).
  std::size_t size() const { return engine_.size(); }

  // Returns: counters since construction, summed from per-thread cells.
  StoreStats stats() const { return engine_.stats(); }

  // Calls visit(const record_type&) for every record (soft-deleted ones only when
  // included). Weakly consistent: each record is seen in one of its states at or after
  // the call began; records created or erased during the call may or may not be seen;
  // no record is seen twice. visit runs outside any lock and any Guard and may call
  // back into the store. Progress: copies a slice of a shard's lookup table at a time
  // under a Guard (detail/scans.hpp) and takes no lock, except that an expired record
  // met is removed after its slice, as find() removes one.
  template <class F>
  void for_each(F&& visit, ReadOptions options = {}) const {
    engine_.for_each(visit, options);
  }

  const StoreOptions& options() const noexcept { return engine_.options(); }

 private:
  engine_type engine_;
};

}  // namespace vkv
