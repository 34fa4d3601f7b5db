// Internal (users never include this directly; vkv/store.hpp includes it): the
// single-record write path. Every write (update, patch, soft delete, restore, erase)
// goes through Store::write and is decided by one compare-and-swap,
// RecordSlot::install (detail/record_slot.hpp); create goes through the index
// (insert_or_revive). Everything that can throw happens before that CAS.
#pragma once

#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::decide(const node_type* node, const Version& expected,
                                           WriteKind kind, bool include_deleted) noexcept
    -> Verdict {
  // An expired node is absent (the clock is read only for nodes that expire).
  if (node != nullptr && node->expires != 0 && expired(*node)) return Verdict::absent;
  return decide_live(node, expected, kind, include_deleted);
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::decide_live(const node_type* node, const Version& expected,
                                                WriteKind kind, bool include_deleted) noexcept
    -> Verdict {
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

template <class T, class Key, class Hash, class KeyEqual>
template <class Build>
auto Store<T, Key, Hash, KeyEqual>::write(const Key& id, const Version& expected, WriteKind kind,
                                          bool include_deleted, bool want_copies, Build&& build)
    -> WriteOutcome {
  return write(id, index_.hashed(id), expected, kind, include_deleted, want_copies,
               std::forward<Build>(build), [](const node_type&) {});
}

template <class T, class Key, class Hash, class KeyEqual>
template <class Build, class Lost>
auto Store<T, Key, Hash, KeyEqual>::write(const Key& id, const HashedKey& key,
                                          const Version& expected, WriteKind kind,
                                          bool include_deleted, bool want_copies, Build&& build,
                                          Lost&& lost, record_type* into) -> WriteOutcome {
  detail::epoch::throttle();  // the garbage bound: may wait, outside any Guard
  const Version fresh_version = detail::next_version();
  WriteOutcome outcome;
  std::optional<EvictionEvent> removed;  // an expired record this write removed
  bool won = false;
  {
    detail::epoch::Guard guard;
    const slot_type* slot = index_.find(key);
    node_type* current = slot != nullptr ? slot->load_for_write() : nullptr;
    node_ptr fresh;
    bool built = false;
    for (;;) {
      if (current != nullptr && current->expires != 0 && expired(*current)) [[unlikely]] {
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
          stamp_new(*fresh);
          if (into != nullptr) {
            into->version = fresh->version;
            into->revision = fresh->revision;
            into->deleted = fresh->deleted != 0;
            into->expires_at = expires_at_of(fresh->expires);
          } else {
            outcome.record.emplace(RecordOf{id, *fresh});
          }
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
        if (kind == WriteKind::erase) {
          // relaxed: the bound's count (docs/design.md, "Cache layer").
          if (options_.max_records != 0) records_.fetch_sub(1, std::memory_order_relaxed);
          index_.remove_if_erased(key, slot);
        }
        counters_.add(detail::Counter::writes);
        won = true;
        expire_some(removed);
        break;
      }
      if (detail::is_entry_word(observed)) {
        // A commit took the slot between our load and our CAS: resolve it and decide
        // again on the record's state (the commit may yet fail and leave it as is).
        current = slot->load_for_write();
        continue;
      }
      // Another writer won; its node decides what we report. A winner that has
      // expired since is removed first (the loop's top), so "not found" is decided by
      // that removal's CAS, never by the clock alone.
      current = detail::word_node<T>(observed);
      if (current != nullptr && current->expires != 0 && expired(*current)) continue;
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
  notify_evict(removed);
  if (!won) count_failure(id, outcome.verdict);
  return outcome;
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::update_impl(const Key& id, const Version& expected, T value,
                                                WriteOptions options, bool want_copies)
    -> WriteOutcome {
  auto prepared = make_node(std::move(value), false);
  return write(id, expected, WriteKind::update, options.include_soft_deleted, want_copies,
               [&](const node_type& current) {
                 prepared->deleted = current.deleted;  // stays soft-deleted if it was
                 prepared->expires = expiry_of(options.ttl);
                 return std::move(prepared);
               });
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::update_into(record_type& out, const Version& expected,
                                                const WriteOptions& options) -> WriteOutcome {
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
      [](const node_type&) {}, &out);
}

template <class T, class Key, class Hash, class KeyEqual>
template <class Mutate>
auto Store<T, Key, Hash, KeyEqual>::patch_impl(const Key& id, const Version& expected,
                                               Mutate&& mutate, WriteOptions options,
                                               bool want_copies) -> WriteOutcome {
  node_ptr prepared;
  WriteOutcome early;
  const HashedKey key = index_.hashed(id);
  for (;;) {
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      const node_type* current = slot != nullptr ? slot->load() : nullptr;
      if (current == nullptr || current->expires == 0 || !expired(*current)) [[likely]] {
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
  return write(
      id, key, expected, WriteKind::update, options.include_soft_deleted, want_copies,
      [&](const node_type& current) {
        prepared->deleted = current.deleted;
        prepared->expires = expiry_of(options.ttl);
        return std::move(prepared);
      },
      [](const node_type&) {});
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::flag_impl(const Key& id, const Version& expected,
                                              WriteKind kind, bool want_copies) -> WriteOutcome {
  return write(id, expected, kind, false, want_copies, [&](const node_type& current) {
    node_ptr fresh = copy_node(current.value, kind == WriteKind::soft_delete);
    fresh->expires = current.expires;  // soft delete and restore keep the expiry
    return fresh;
  });
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::erase_impl(const Key& id, const Version& expected,
                                               bool want_copies) -> WriteOutcome {
  return write(id, expected, WriteKind::erase, true, want_copies,
               [](const node_type&) { return node_ptr(); });
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::create_impl(Key id, T value, std::int64_t expires,
                                                std::optional<record_type>& out,
                                                std::optional<record_type>* existing) -> bool {
  detail::epoch::throttle();
  auto fresh = make_node(std::move(value), false);
  fresh->version = detail::next_version();
  fresh->revision = 1;
  fresh->expires = expires;
  stamp_new(*fresh);
  out.emplace(
      record_type{std::move(id), fresh->value, fresh->version, 1, false, expires_at_of(expires)});
  const HashedKey key = index_.hashed(out->id);
  std::optional<EvictionEvent> removed;  // an expired record this create replaced
  bool inserted = false;
  bool replaced = false;
  {
    detail::epoch::Guard guard;
    for (;;) {
      detail::epoch::reserve(2);  // the map may free a node it built for a lost insert
      node_type* current = nullptr;
      if (index_.insert_or_revive(key, fresh.get(), current) != index_type::InsertOutcome::exists) {
        inserted = true;
        break;
      }
      if (current->expires == 0 || !expired(*current)) {
        if (existing != nullptr) existing->emplace(make_record(out->id, *current));
        return false;
      }
      // An expired record is absent: replace it by the compare-and-swap at its node.
      const slot_type* slot = index_.find(key);
      if (slot == nullptr) continue;  // removed meanwhile: insert again
      if (options_.on_evict && !removed) {
        removed.emplace(EvictionEvent{Reason::expired, options_.entity_type,
                                      detail::key_text(out->id), Version()});
      }
      std::uintptr_t observed;
      if (slot->install(current, fresh.get(), observed)) {  // <- decided here
        if (removed) removed->version = current->version;
        replaced = true;
        if (current->deleted) {
          // relaxed: a statistic, exact once writers are quiet.
          index_.shard_for(key).live.fetch_add(1, std::memory_order_relaxed);
        }
        detail::retire_pooled(current);
        counters_.add(detail::Counter::expirations);
        break;
      }
      // Lost to another writer (or a commit, resolved by the next look): go again.
    }
    fresh.release();
    if (!replaced) removed.reset();  // prepared for a replacement that lost
    if (inserted) {
      // relaxed: statistics and the bound's count, exact once writers are quiet.
      index_.shard_for(key).live.fetch_add(1, std::memory_order_relaxed);
      if (options_.max_records != 0) records_.fetch_add(1, std::memory_order_relaxed);
    }
    counters_.add(detail::Counter::creates);
    expire_some(removed);
  }
  notify_evict(removed);
  if (inserted) evict_to_bound(key);
  return true;
}

}  // namespace vkv
