// Internal (users never include this directly; vkv/store.hpp holds one): StoreEngine,
// the machinery behind vkv::Store. Store is its documented face and forwards every
// member here. The engine's state and the step every write shares live in StoreCore
// (detail/store_core.hpp); the mechanisms it composes live one to a file: the index and
// its lookup table (detail/sharded_index.hpp, detail/lookup_table.hpp), the record slot
// and its compare-and-swap (detail/record_slot.hpp), nodes and their pool
// (detail/node.hpp, detail/node_pool.hpp), epoch reclamation (detail/epoch.hpp),
// versions (detail/version_generator.hpp), expiry (detail/expiry.hpp), the capacity
// bound (detail/eviction.hpp), counters and hot keys (detail/counters.hpp,
// detail/hot_keys.hpp), and the multi-record commit (detail/commit.hpp). Scans and the
// read-modify-write loops: detail/scans.hpp, detail/read_modify_write.hpp.
//
// Every write is decided by one compare-and-swap, RecordSlot::install, reached through
// StoreCore::install (which also keeps the books of the write that won); a create's
// insert is decided by the index (ShardedIndex::insert_or_revive). Everything that can
// throw happens before that decision; after it, nothing can fail.
//
// Thread safety: as vkv::Store (vkv/store.hpp): every member may be called concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "vkv/detail/commit.hpp"
#include "vkv/detail/read_modify_write.hpp"
#include "vkv/detail/scans.hpp"
#include "vkv/detail/store_core.hpp"
#include "vkv/detail/version_generator.hpp"
#include "vkv/result.hpp"
#include "vkv/retry.hpp"

namespace vkv::detail {

template <class T, class Key, class Hash, class KeyEqual>
class StoreEngine : public StoreCore<T, Key, Hash, KeyEqual> {
  using Core = StoreCore<T, Key, Hash, KeyEqual>;
  using Core::bound_;
  using Core::contention_;
  using Core::counters_;
  using Core::features_;
  using Core::index_;
  using Core::kBounded;
  using Core::kTtl;
  using Core::options_;

 public:
  using Core::after_insert;
  using Core::count_failure;
  using Core::evict_to_bound;
  using Core::eviction_event;
  using Core::expire_some;
  using Core::expiry_of;
  using Core::install;
  using Core::notify_evict;
  using Core::remove_expired;
  using Core::remove_node;
  using Core::settle;
  using typename Core::HashedKey;
  using typename Core::index_type;
  using typename Core::node_ptr;
  using typename Core::node_type;
  using typename Core::Outcome;
  using typename Core::Reason;
  using typename Core::record_type;
  using typename Core::slot_type;
  using typename Core::transaction_type;

  explicit StoreEngine(StoreOptions options) : Core(std::move(options)) {}

  // ---- Reads ------------------------------------------------------------------------

  std::optional<record_type> find(const Key& id, ReadOptions options) const {
    counters_.add(Counter::reads);
    return read_removing_expired(id, index_.hashed(id), options, nullptr);
  }

  // find() without the read count; with `only`, nullopt unless the record is in that
  // slot (for_each: a record re-created elsewhere meanwhile is left to its scan).
  std::optional<record_type> read_removing_expired(const Key& id, const HashedKey& key,
                                                   ReadOptions options,
                                                   const slot_type* only) const {
    for (;;) {
      {
        epoch::Guard guard;
        const slot_type* slot = index_.find(key);
        if (slot == nullptr || (only != nullptr && slot != only)) return std::nullopt;
        const node_type* node = slot->load();
        if (node == nullptr) return std::nullopt;
        if (!expired(*node)) [[likely]] {
          bound_.touch(*node);
          if (node->deleted && !options.include_soft_deleted) return std::nullopt;
          return std::optional<record_type>(std::in_place, RecordOf<T, Key>{id, *node});
        }
      }
      remove_expired(id, key);
    }
  }

  template <class F>
  bool visit(const Key& id, F&& f, ReadOptions options) const {
    counters_.add(Counter::reads);
    const HashedKey key = index_.hashed(id);
    for (;;) {
      {
        epoch::Guard guard;
        const slot_type* slot = index_.find(key);
        if (slot == nullptr) return false;
        const node_type* node = slot->load();
        if (node == nullptr) return false;
        if (!expired(*node)) [[likely]] {
          bound_.touch(*node);
          if (node->deleted && !options.include_soft_deleted) return false;
          const RecordView<T, Key> view{id,
                                        node->value,
                                        node->version,
                                        node->revision,
                                        node->deleted != 0,
                                        expires_at_of(node->expires)};
          std::invoke(std::forward<F>(f), view);
          return true;
        }
      }
      remove_expired(id, key);
    }
  }

  std::vector<std::optional<record_type>> find_many(std::span<const Key> ids,
                                                    ReadOptions options) const {
    return scan_many(*this, ids, options);  // detail/scans.hpp
  }
  template <class F>
  void for_each(F&& visit, ReadOptions options) const {
    scan_all(*this, visit, options);  // detail/scans.hpp
  }

  // ---- Single-record writes -----------------------------------------------------------

  record_type create(Key&& id, T&& value, const WriteOptions& options) {
    std::optional<record_type> out;
    if (!create_impl(std::move(id), std::move(value), expiry_of(options.ttl), out, nullptr)) {
      throw_error(base_info(options_, Errc::duplicate_key, out->id));
    }
    return std::move(*out);
  }
  Result<record_type> try_create(Key&& id, T&& value) {
    std::optional<record_type> out;
    if (!create_impl(std::move(id), std::move(value), expiry_of(std::nullopt), out, nullptr)) {
      return base_info(options_, Errc::duplicate_key, out->id);
    }
    return std::move(*out);
  }

  record_type update_with_version(const Key& id, const Version& expected, T&& value,
                                  const WriteOptions& options) {
    // The record returned is built once, here, from what the caller passed (before
    // anything is decided: a throwing copy changes nothing); the write fills in the
    // rest when it wins, and `out` is returned as it is.
    record_type out{id, std::move(value)};
    const Outcome outcome = update_into(out, expected, options);
    if (outcome.verdict != Verdict::ok) [[unlikely]]
      throw_failed(options_, id, expected, outcome);
    return out;
  }

  template <class Mutate>
  record_type patch_with_version(const Key& id, const Version& expected, Mutate& mutate,
                                 const WriteOptions& options) {
    return committed_or_throw(options_, id, expected,
                              patch_impl(id, expected, mutate, options, false));
  }
  record_type set_deleted(const Key& id, const Version& expected, WriteKind kind) {
    return committed_or_throw(options_, id, expected, flag_impl(id, expected, kind, false));
  }
  void erase(const Key& id, const Version& expected) {
    const Outcome outcome = flag_impl(id, expected, WriteKind::erase, false);
    if (outcome.verdict != Verdict::ok) [[unlikely]]
      throw_failed(options_, id, expected, outcome);
  }

  // The non-throwing forms (kind: soft delete, restore or erase).
  Result<record_type> try_update_with_version(const Key& id, const Version& expected, T&& value,
                                              const WriteOptions& options) {
    return to_result(options_, id, expected,
                     update_impl(id, expected, std::move(value), options, true));
  }
  template <class Mutate>
  Result<record_type> try_patch_with_version(const Key& id, const Version& expected, Mutate& mutate,
                                             const WriteOptions& options) {
    return to_result(options_, id, expected, patch_impl(id, expected, mutate, options, true));
  }
  Result<record_type> try_flag(const Key& id, const Version& expected, WriteKind kind) {
    return to_result(options_, id, expected, flag_impl(id, expected, kind, true));
  }

  // Not inlined into its callers, so that write(), whose one caller it is, is inlined
  // into it (tools/icount.sh counts the difference).
  [[gnu::noinline]] Outcome update_impl(const Key& id, const Version& expected, T value,
                                        WriteOptions options, bool want_copies) {
    node_ptr prepared = make_node(std::move(value), false);
    return write(id, index_.hashed(id), expected, WriteKind::update, options.include_soft_deleted,
                 want_copies, [&](const node_type& current) {
                   prepared->deleted = current.deleted;  // stays soft-deleted if it was
                   prepared->expires = expiry_of(options.ttl);
                   return std::move(prepared);
                 });
  }

  // update_with_version's write: `out` holds the id and the new value; on success it
  // becomes the committed record (its value copied once, into the new node).
  [[gnu::noinline]] Outcome update_into(record_type& out, const Version& expected,
                                        const WriteOptions& options) {
    node_ptr prepared = copy_node(out.value, false);
    const std::int64_t expires = expiry_of(options.ttl);
    return write(
        out.id, index_.hashed(out.id), expected, WriteKind::update, options.include_soft_deleted,
        false,
        [&](const node_type& current) {
          prepared->deleted = current.deleted;  // stays soft-deleted if it was
          prepared->expires = expires;
          return std::move(prepared);
        },
        NoLoss{}, &out);
  }

  template <class Mutate>
  Outcome patch_impl(const Key& id, const Version& expected, Mutate&& mutate,
                     const WriteOptions& options, bool want_copies) {
    node_ptr prepared;
    Outcome early;
    const HashedKey key = index_.hashed(id);
    for (;;) {
      {
        epoch::Guard guard;
        const slot_type* slot = index_.find(key);
        const node_type* current = slot != nullptr ? slot->load() : nullptr;
        if (current == nullptr || !expired(*current)) [[likely]] {
          early.verdict =
              decide_live(current, expected, WriteKind::update, options.include_soft_deleted);
          if (early.verdict == Verdict::ok) {
            prepared = copy_node(current->value, false);
          } else if (early.verdict == Verdict::conflict) {
            early.actual = current->version;
            if (want_copies) early.record.emplace(make_record(id, *current));
          }
          break;
        }
      }
      // Expired: absent only once removed by the CAS at its node; then read again.
      remove_expired(id, key);
    }
    if (early.verdict != Verdict::ok) {
      count_failure(id, early.verdict);
      return early;
    }
    std::invoke(mutate, prepared->value);  // outside any Guard or lock; may throw
    return write(id, key, expected, WriteKind::update, options.include_soft_deleted, want_copies,
                 [&](const node_type& current) {
                   prepared->deleted = current.deleted;
                   prepared->expires = expiry_of(options.ttl);
                   return std::move(prepared);
                 });
  }

  // Soft delete, restore (kind) and erase (build returns nullptr).
  Outcome flag_impl(const Key& id, const Version& expected, WriteKind kind, bool want_copies) {
    if (kind == WriteKind::erase) {
      return write(id, index_.hashed(id), expected, kind, true, want_copies,
                   [](const node_type&) { return node_ptr(); });
    }
    return write(id, index_.hashed(id), expected, kind, false, want_copies,
                 [&](const node_type& current) {
                   node_ptr fresh = copy_node(current.value, kind == WriteKind::soft_delete);
                   fresh->expires = current.expires;  // soft delete and restore keep it
                   return fresh;
                 });
  }

  // The write path shared by update, patch, soft delete, restore and erase.
  // build(current) makes the successor node (value and deleted flag set), or returns
  // nullptr to erase; lost(winner) runs under the Guard when the CAS lost to another
  // writer (update_with_retry copies the winner). With `into` set, a won write fills
  // into's version, revision, deleted flag and expiry from its node instead of building
  // outcome.record (into holds the id and the value already: update_into).
  struct NoLoss {
    void operator()(const node_type&) const noexcept {}
  };
  template <class Build, class Lost = NoLoss>
  Outcome write(const Key& id, const HashedKey& key, const Version& expected, WriteKind kind,
                bool include_deleted, bool want_copies, Build&& build, Lost&& lost = Lost{},
                record_type* into = nullptr) {
    epoch::throttle();  // the garbage bound: may wait, outside any Guard
    const Version fresh_version = next_version();
    // relaxed: a superset of the features in use (StoreCore invariant 2).
    const std::uint32_t features = features_.load(std::memory_order_relaxed);
    Outcome outcome;
    std::optional<EvictionEvent> removed;  // an expired record this write removed
    bool won = false;
    {
      epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      node_type* current = slot != nullptr ? slot->load_for_write() : nullptr;
      node_ptr fresh;
      bool built = false;
      for (;;) {
        if (current != nullptr && expired(*current)) [[unlikely]] {
          // Met an expired record: remove it by the compare-and-swap at its node (or
          // lose to whoever replaced it, and decide on that).
          if (remove_node(id, key, *slot, current, Reason::expired, removed)) {
            current = nullptr;
          } else {
            current = slot->load_for_write();
            continue;
          }
        }
        // Checked for expiry just above: decide the rest without a second clock read.
        outcome.verdict = decide_live(current, expected, kind, include_deleted);
        if (outcome.verdict != Verdict::ok) break;
        if (!built) {
          // A node with our expected version is the node we first saw (versions are
          // unique), so what we build from it stays valid if we come back here.
          fresh = build(*current);
          built = true;
          if (fresh) {
            fresh->version = fresh_version;
            fresh->revision = current->revision + 1;
            if (features & kBounded) [[unlikely]]
              bound_.stamp(*fresh);
            if (into != nullptr) {
              into->version = fresh->version;
              into->revision = fresh->revision;
              into->deleted = fresh->deleted != 0;
              into->expires_at = expires_at_of(fresh->expires);
            } else {
              outcome.record.emplace(RecordOf<T, Key>{id, *fresh});
            }
          } else if (want_copies) {
            outcome.record.emplace(RecordOf<T, Key>{id, *current});
          }
        }
        // Room to retire the replaced node and an erased index entry (may throw:
        // nothing has changed yet).
        epoch::reserve(2);
        std::uintptr_t observed;
        if (install(key, *slot, current, fresh.get(), observed)) {  // <- decided here
          fresh.release();
          counters_.add(Counter::writes);
          won = true;
          if (features & kTtl) [[unlikely]]
            expire_some(removed);
          break;
        }
        if (is_entry_word(observed)) {
          // A commit took the slot between our load and our CAS: resolve it and decide
          // again on the record's state (the commit may yet fail and leave it as is).
          current = slot->load_for_write();
          continue;
        }
        // Another writer won; its node decides what we report. A winner that has
        // expired since is removed first (the loop's top), so "not found" is decided by
        // that removal's CAS, never by the clock alone.
        current = word_node<T>(observed);
        if (current != nullptr && expired(*current)) continue;
        outcome.verdict = decide_live(current, expected, kind, include_deleted);
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
    if (removed) [[unlikely]]
      notify_evict(removed);
    if (!won) count_failure(id, outcome.verdict);
    return outcome;
  }

  // Inserts, revives an erased slot, or replaces an expired record (by the CAS at its
  // node). On a duplicate, out holds the id only and *existing (if given) the record
  // that exists.
  bool create_impl(Key&& id, T&& value, std::int64_t expires, std::optional<record_type>& out,
                   std::optional<record_type>* existing) {
    epoch::throttle();
    node_ptr fresh = make_node(std::move(value), false);
    fresh->version = next_version();
    fresh->revision = 1;
    // relaxed: a superset of the features in use (StoreCore invariant 2; read after the
    // expiry stamp was made, so it includes a TTL this create brings).
    const std::uint32_t features = features_.load(std::memory_order_relaxed);
    fresh->expires = expires;
    bound_.stamp(*fresh);
    out.emplace(RecordOf<T, Key, Key&&>{std::move(id), *fresh});  // revision 1, live, `expires`
    const HashedKey key = index_.hashed(out->id);
    std::optional<EvictionEvent> removed;  // an expired record this create replaced
    bool inserted = false;
    {
      epoch::Guard guard;
      for (;;) {
        epoch::reserve(2);  // the map may free a node it built for a lost insert
        node_type* current = nullptr;
        if (index_.insert_or_revive(key, fresh.get(), current) !=
            index_type::InsertOutcome::exists) {  // <- decided here (an insert)
          settle(key, nullptr, nullptr, fresh.get());
          inserted = true;
          break;
        }
        if (!expired(*current)) {
          if (existing != nullptr) existing->emplace(make_record(out->id, *current));
          return false;
        }
        // An expired record is absent: replace it by the compare-and-swap at its node.
        const slot_type* slot = index_.find(key);
        if (slot == nullptr) continue;  // removed meanwhile: insert again
        std::optional<EvictionEvent> prepared = eviction_event(out->id, Reason::expired);
        std::uintptr_t observed;
        if (install(key, *slot, current, fresh.get(), observed)) {  // <- decided here
          counters_.add(Counter::expirations);
          if (prepared) {
            prepared->version = current->version;
            removed = std::move(prepared);
          }
          break;
        }
        // Lost to another writer (or a commit, resolved by the next look): go again.
      }
      fresh.release();
      counters_.add(Counter::creates);
      if (features & kTtl) [[unlikely]]
        expire_some(removed);
    }
    after_insert(features, removed, inserted, key);
    return true;
  }

  // Unconditional write: creates or replaces, always with a fresh version.
  record_type put(Key&& id, T&& value, const WriteOptions& options) {
    epoch::throttle();  // the garbage bound: may wait, outside any Guard
    node_ptr fresh = make_node(std::move(value), false);
    fresh->version = next_version();
    fresh->expires = expiry_of(options.ttl);
    bound_.stamp(*fresh);
    // relaxed: a superset of the features in use (StoreCore invariant 2), read after
    // this put's own expiry stamp set kTtl.
    const std::uint32_t features = features_.load(std::memory_order_relaxed);
    record_type out{
        std::move(id), fresh->value, fresh->version, 1, false, expires_at_of(fresh->expires)};
    const HashedKey key = index_.hashed(out.id);
    std::optional<EvictionEvent> removed;  // an expired record this put replaced
    bool inserted = false;
    bool as_create = false;  // absent or expired before: a create (revision 1)
    {
      epoch::Guard guard;
      for (;;) {
        // Retirement room for the replaced node or a map node (may throw: nothing changed).
        epoch::reserve(2);
        const slot_type* slot = index_.find(key);
        node_type* current = slot != nullptr ? slot->load_for_write() : nullptr;
        if (current == nullptr) {
          fresh->revision = 1;
          node_type* existing = nullptr;
          if (index_.insert_or_revive(key, fresh.get(), existing) !=
              index_type::InsertOutcome::exists) {  // <- decided here (an insert)
            settle(key, nullptr, nullptr, fresh.get());
            inserted = as_create = true;
            break;
          }
          continue;  // created meanwhile: replace that one
        }
        const bool was_expired = expired(*current);
        std::optional<EvictionEvent> prepared;
        if (was_expired) prepared = eviction_event(out.id, Reason::expired);
        fresh->revision = was_expired ? 1 : current->revision + 1;
        std::uintptr_t observed;
        if (install(key, *slot, current, fresh.get(), observed)) {  // <- decided here
          if (was_expired) {
            as_create = true;
            counters_.add(Counter::expirations);
            if (prepared) {
              prepared->version = current->version;
              removed = std::move(prepared);
            }
          }
          break;
        }
        // Lost to another writer: go again from what is there now.
      }
      out.revision = fresh->revision;
      fresh.release();
      counters_.add(as_create ? Counter::creates : Counter::writes);
      if (features & kTtl) [[unlikely]]
        expire_some(removed);
    }
    after_insert(features, removed, inserted, key);
    return out;
  }

  template <class Make>
  record_type find_or_create(Key&& id, Make&& make) {
    if (std::optional<record_type> found = find(id, ReadOptions{true})) {
      if (found->deleted) throw_error(base_info(options_, Errc::duplicate_key, id));
      return std::move(*found);
    }
    T value = std::invoke(std::forward<Make>(make));  // outside any lock or Guard; may throw
    std::optional<record_type> out;
    std::optional<record_type> existing;
    if (create_impl(std::move(id), std::move(value), expiry_of(std::nullopt), out, &existing)) {
      return std::move(*out);
    }
    // Lost the race: the record that was created (or that exists) is the answer.
    if (existing->deleted) throw_error(base_info(options_, Errc::duplicate_key, out->id));
    return std::move(*existing);
  }

  template <class Mutate>
  record_type update_with_retry(const Key& id, Mutate& mutate, const RetryPolicy& policy) {
    // detail/read_modify_write.hpp
    if (contention_) return adaptive_update_with_retry(*this, *contention_, id, mutate, policy);
    return optimistic_update_with_retry(*this, id, mutate, policy);
  }

  std::vector<record_type> commit(const transaction_type& tx) {
    return commit_or_throw(*this, tx);  // detail/commit.hpp
  }
  Result<std::vector<record_type>> try_commit(const transaction_type& tx) {
    return try_commit_transaction(*this, tx);  // detail/commit.hpp
  }
};

}  // namespace vkv::detail
