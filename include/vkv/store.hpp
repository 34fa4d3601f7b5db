// vkv::Store: the versioned key-value store.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
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
#include "vkv/detail/eviction_sampler.hpp"
#include "vkv/detail/hot_keys.hpp"
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
// (detail::RecordSlot::install); reads never wait for writers of the record (a read
// that meets an expired record removes it, as an erase: see find()).
//
// Thread safety: a Store is safe for concurrent access from any number of threads
// without any external synchronization or per-thread setup. Every single-record
// operation is linearizable. Destroying a Store while another thread uses it is
// undefined behaviour, as for any object.
//
// Exception safety: an operation that throws or returns an error has changed
// nothing (a version mismatch, std::bad_alloc at any allocation, a throwing mutate).
// Deliberate exceptions: a throwing transform leaves its write committed; an
// exception from on_conflict propagates (the operation, having failed, changed
// nothing); an exception from on_evict propagates after the removal it reports (and
// after the operation's own write, if that succeeded). try_* calls throw only std::bad_alloc and
// what user callbacks throw.
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
  // An expired record does not exist (the create replaces it). options.ttl: see
  // WriteOptions (only ttl is used).
  record_type create(Key id, T value, WriteOptions options = {}) {
    std::optional<record_type> out;
    if (!create_impl(std::move(id), std::move(value), expiry_of(options.ttl), out, nullptr)) {
      throw_error(duplicate_info(out->id));
    }
    return std::move(*out);
  }

  // The record, or nullopt if absent, expired or soft-deleted (unless included). An
  // expired record met here is removed before it is reported absent (an erase decided by
  // the compare-and-swap at its node: it writes, may wait for the index map's locks for
  // one map operation, and runs on_evict), then the slot is read again. Otherwise it
  // takes no lock and waits for nothing; it writes its read count (an atomic
  // read-modify-write only for threads past the first 64: detail/counters.hpp) and, in
  // a store with max_records, the record's use stamp once per LRU clock tick.
  std::optional<record_type> find(const Key& id, ReadOptions options = {}) const;

  // Zero-copy read: calls f(const RecordView<T, Key>&) once, with the record as it is
  // at one instant, and returns true; returns false without calling f if absent or
  // soft-deleted (unless included). Progress and writes as find() (apart from f). f runs
  // inside the read's Guard but outside any lock and may call back into the store;
  // memory reclamation (of every store) waits while it runs, so keep it short.
  // Counts one read. If f throws, the exception propagates; nothing changed.
  // An expired record is removed and missed, as in find().
  template <class F>
  bool visit(const Key& id, F&& f, ReadOptions options = {}) const;

  // Replaces the value iff the current version equals `expected`.
  // Throws EntityNotFoundError if absent, or soft-deleted without
  // options.include_soft_deleted (a soft-deleted record stays deleted when updated
  // with it); OptimisticLockError if the version differs.
  record_type update_with_version(const Key& id, const Version& expected, T value,
                                  WriteOptions options = {}) {
    // The record returned is built once, here, from what the caller passed (before
    // anything is decided: a throwing copy changes nothing); the write fills in the
    // rest when it wins, and `out` is returned as it is (no second copy, no move).
    record_type out{id, std::move(value)};
    const WriteOutcome outcome = update_into(out, expected, options);
    if (outcome.verdict != Verdict::ok) [[unlikely]]
      throw_if_failed(id, expected, outcome);
    return out;
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
    const WriteOutcome outcome = erase_impl(id, expected, false);
    if (outcome.verdict != Verdict::ok) [[unlikely]]
      throw_if_failed(id, expected, outcome);
  }

  // @name Non-throwing twins (they may still throw std::bad_alloc and what user
  // callbacks throw). On Errc::conflict, Result::current() is the record as it is now.
  Result<record_type> try_create(Key id, T value) {
    std::optional<record_type> out;
    if (!create_impl(std::move(id), std::move(value), expiry_of(std::nullopt), out, nullptr)) {
      return duplicate_info(out->id);
    }
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
  record_type update_with_retry(const Key& id, Mutate&& mutate, RetryPolicy policy = {});

  // @name Batches.

  // One answer per id, in the order asked (each exactly what find(id) would answer
  // at some instant during the call; the batch is not a snapshot: use a transaction of
  // checks to validate one). Counts one read per id asked. Progress and writes as
  // find(), per id (an expired record met is removed outside the batch's Guard).
  std::vector<std::optional<record_type>> find_many(std::span<const Key> ids,
                                                    ReadOptions options = {}) const;

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

  // @name Cache layer (docs/guide.md, "A cache"; docs/design.md, "Cache layer").

  // Unconditional write (a cache fill): creates the record (revision 1) or replaces
  // it whatever its version and state (revision + 1, deleted = false; an expired one
  // counts as absent: revision 1). Always a fresh version; decided by the same
  // compare-and-swap as every write (a lost one goes again from the winner). Counts as
  // a create or a write. Expiry from options.ttl, else StoreOptions::default_ttl.
  record_type put(Key id, T value, WriteOptions options = {});

  // The record if it exists; otherwise creates it from make() (T make()) and returns
  // it. Racing callers on one absent id all return the one record that was created;
  // a losing caller's value is discarded. make runs outside any lock and Guard and may
  // run in several racing callers; if it throws, nothing changed. A soft-deleted id
  // exists: DuplicateKeyError, as create. Counts one read, and a create if it made one.
  template <class Make>
  record_type find_or_create(Key id, Make&& make);

  // The n keys with the most conflicts since construction, most first, with their
  // counts: a striped Space-Saving sketch updated only when a version check fails; a
  // count over-states the recorded conflicts by at most (conflicts its stripe recorded)
  // / 16, and a failed write drops its observation rather than wait for a busy stripe,
  // so under contention a count may also under-state (detail/hot_keys.hpp). Locks each
  // stripe in turn.
  std::vector<HotKey> hot_keys(std::size_t n) const { return hot_->top(n); }

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
  // into the store. It copies a slice of a shard's lookup table (kForEachSlice cells)
  // at a time under a Guard, then calls visit on the copies; it takes no lock, except
  // that an expired record met in a slice is removed after it, as find() removes one
  // (and handed out if a racing write kept it alive).
  template <class F>
  void for_each(F&& visit, ReadOptions options = {}) const;

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
    return record_type{id,
                       node.value,
                       node.version,
                       node.revision,
                       node.deleted != 0,
                       expires_at_of(node.expires)};
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
                        bool include_deleted) noexcept;
  // The same for a node known not to be expired (no clock read).
  static Verdict decide_live(const node_type* node, const Version& expected, WriteKind kind,
                             bool include_deleted) noexcept;

  // The write path shared by update, patch, soft delete, restore and erase.
  // build(current) makes the successor node (value and deleted flag set), or returns
  // nullptr to erase. Everything that can throw happens before the compare-and-swap;
  // after it, nothing can fail.
  template <class Build>
  WriteOutcome write(const Key& id, const Version& expected, WriteKind kind, bool include_deleted,
                     bool want_copies, Build&& build);

  // The same, for a key hashed already; lost(winner) runs under the Guard when the
  // compare-and-swap lost to another writer (update_with_retry copies the winner).
  // With `into` set, a won write fills into's version, revision, deleted flag and
  // expiry from its node instead of building outcome.record (into holds the id and the
  // value already: update_into).
  template <class Build, class Lost>
  WriteOutcome write(const Key& id, const HashedKey& key, const Version& expected, WriteKind kind,
                     bool include_deleted, bool want_copies, Build&& build, Lost&& lost,
                     record_type* into = nullptr);

  // Not inlined into its callers, so that write(), whose one caller it is, is inlined
  // into it (g++ 12 otherwise inlined this into the caller and left write() out of
  // line: +14 instructions per update_with_version, tools/icount.sh).
  [[gnu::noinline]] WriteOutcome update_impl(const Key& id, const Version& expected, T value,
                                             WriteOptions options, bool want_copies);

  // update_with_version's write: `out` holds the id and the new value; on success it
  // becomes the committed record (its value copied once, into the new node).
  [[gnu::noinline]] WriteOutcome update_into(record_type& out, const Version& expected,
                                             const WriteOptions& options);

  template <class Mutate>
  WriteOutcome patch_impl(const Key& id, const Version& expected, Mutate&& mutate,
                          WriteOptions options, bool want_copies);

  WriteOutcome flag_impl(const Key& id, const Version& expected, WriteKind kind, bool want_copies);

  WriteOutcome erase_impl(const Key& id, const Version& expected, bool want_copies);

  // Inserts, revives an erased slot, or replaces an expired record (by the CAS at its
  // node). On a duplicate, out holds the id only and *existing (if given) the record
  // that exists.
  bool create_impl(Key id, T value, std::int64_t expires, std::optional<record_type>& out,
                   std::optional<record_type>* existing);

  // @name Cache layer internals (detail/store_cache.hpp).
  using Reason = EvictionEvent::Reason;
  // Cells an eviction samples at most, and the candidates it compares.
  static constexpr std::size_t kEvictionProbes = 128;
  static constexpr std::size_t kEvictionSample = 8;
  // Active expiry: one write in kExpiryEvery (chosen at random) probes kExpiryProbes
  // cells for expired records and removes the first it meets.
  static constexpr std::size_t kExpiryEvery = 8;
  static constexpr std::size_t kExpiryProbes = 8;

  static std::int64_t now_ticks() noexcept;
  static bool expired(const node_type& node) noexcept;  // reads the clock
  static std::optional<std::chrono::steady_clock::time_point> expires_at_of(
      std::int64_t expires) noexcept;
  // The expiry stamp of a write made now with `ttl` (unset: the default).
  std::int64_t expiry_of(std::optional<std::chrono::nanoseconds> ttl) const noexcept;
  // Records a use of node for the eviction order (bounded stores only).
  void touch(const node_type& node) const noexcept;
  // A fresh node's use stamp and expiry bookkeeping, before it is published.
  void stamp_new(node_type& node) const noexcept;
  // Removes `node` from `slot` by an erase compare-and-swap at it (expiry or eviction).
  // True if it won. Under the caller's Guard; fills `event` for notify_evict().
  bool remove_node(const Key& id, const HashedKey& key, const slot_type& slot, node_type* node,
                   Reason reason, std::optional<EvictionEvent>& event) const;
  // Removes the expired record of key, if it still is there (out of line: find, visit).
  // Outside any Guard (it notifies on_evict). Every "absent because expired" verdict
  // comes from this removal (or remove_node's), never from the clock alone.
  void remove_expired(const Key& id, const HashedKey& key) const;
  // find() without the read count; with `only`, nullopt unless the record is in that
  // slot (for_each: a record re-created elsewhere meanwhile is left to its scan).
  std::optional<record_type> read_removing_expired(const Key& id, const HashedKey& key,
                                                   ReadOptions options,
                                                   const slot_type* only) const;
  // Active expiry: probes kExpiryProbes cells and removes one expired record met.
  // Under the caller's Guard; does nothing if `event` is set already.
  void expire_some(std::optional<EvictionEvent>& event) const;
  // Evicts until the store holds at most max_records records, never the record of
  // `written` (the key the triggering write just created: the most recently used
  // record). Outside any Guard.
  void evict_to_bound(const HashedKey& written);
  bool evict_one(const HashedKey& written, std::optional<EvictionEvent>& event);
  // Runs on_evict outside any Guard or lock.
  void notify_evict(const std::optional<EvictionEvent>& event) const {
    if (event && options_.on_evict) options_.on_evict(*event);
  }
  void note_conflict(const Key& id) const noexcept;

  // update_with_retry in contention-adaptive mode. The loop of the optimistic one, plus:
  // before each attempt, a hot key's writer waits (bounded) for the key's turn and then
  // re-reads (the record moved on while it waited); after each attempt the outcome
  // feeds the key's heat estimate. The compare-and-swap still decides every write.
  template <class Mutate>
  record_type adaptive_update_with_retry(const Key& id, Mutate& mutate, const RetryPolicy& policy);

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
    // An entry the attempt met expired: to be removed, then the commit goes again.
    static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::size_t expired_entry = kNone;
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
                           const RetryPolicy& policy, Backoff& backoff, int retries);

  // The record to start a read-modify-write from: ok with a copy, or not found.
  WriteOutcome read_for_write(const Key& id) const;

  void count_failure(const Key& id, Verdict verdict) {
    if (verdict == Verdict::conflict) {
      counters_.add(detail::Counter::conflicts);
      note_conflict(id);
    } else if (verdict != Verdict::ok) {
      counters_.add(detail::Counter::not_found);
    }
  }

  ErrorInfo base_info(Errc code, const Key& id) const;
  ErrorInfo duplicate_info(const Key& id) const { return base_info(Errc::duplicate_key, id); }
  ErrorInfo not_found_info(const Key& id, Verdict verdict) const;
  ErrorInfo conflict_info(const Key& id, const Version& expected, const Version& actual) const;

  // Runs on_conflict: on the failing thread, before the call returns, outside any
  // Guard or lock. If it throws, the exception propagates.
  void notify_conflict(const Key& id, const Version& expected, const Version& actual) const;

  // Throws what a failed outcome means; returns the written record otherwise.
  record_type committed_or_throw(const Key& id, const Version& expected, WriteOutcome&& outcome);
  // Out of line and cold: callers test the verdict first (the failure path only).
  [[gnu::cold, gnu::noinline]] void throw_if_failed(const Key& id, const Version& expected,
                                                    const WriteOutcome& outcome);

  Result<record_type> to_result(const Key& id, const Version& expected, WriteOutcome&& outcome);

  StoreOptions options_;
  // mutable: reads remove the expired records they meet (an erase by compare-and-swap).
  mutable index_type index_;
  mutable detail::StoreCounters counters_;
  // Records in the store, soft-deleted included (bounded stores only; relaxed: the
  // bound's slack is documented in docs/design.md, "Cache layer").
  // Its own cache line: written by every create and erase of a bounded store.
  alignas(64) mutable std::atomic<std::int64_t> records_{0};
  // The coarse LRU clock: ticks every lru_tick_ evictions (per thread). Its own line:
  // read by every find and visit of a bounded store, written rarely.
  alignas(64) mutable std::atomic<std::uint32_t> lru_clock_{0};
  std::uint32_t lru_tick_ = static_cast<std::uint32_t>(
      std::clamp<std::size_t>(options_.max_records / 64, std::size_t{1}, std::size_t{16}));
  // Set once a node with an expiry was built: writes then do active expiry.
  mutable std::atomic<bool> ttl_seen_{options_.default_ttl.count() > 0};
  std::unique_ptr<detail::HotKeySketch> hot_ = std::make_unique<detail::HotKeySketch>();
  // Contention-adaptive mode's turns and heat; null when the mode is off. Initialised
  // here (after options_) so that no constructor needs to mention it.
  std::unique_ptr<detail::ContentionTable> contention_ = make_contention_table(options_);
};

}  // namespace vkv

// Out-of-class members, one concern a file.
#include "vkv/detail/store_cache.hpp"   // IWYU pragma: export
#include "vkv/detail/store_commit.hpp"  // IWYU pragma: export
#include "vkv/detail/store_errors.hpp"  // IWYU pragma: export
#include "vkv/detail/store_reads.hpp"   // IWYU pragma: export
#include "vkv/detail/store_retry.hpp"   // IWYU pragma: export
#include "vkv/detail/store_views.hpp"   // IWYU pragma: export
#include "vkv/detail/store_write.hpp"   // IWYU pragma: export
