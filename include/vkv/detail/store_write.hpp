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
                                          Lost&& lost) -> WriteOutcome {
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

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::update_impl(const Key& id, const Version& expected, T value,
                                                WriteOptions options, bool want_copies)
    -> WriteOutcome {
  auto prepared = make_node(std::move(value), false);
  return write(id, expected, WriteKind::update, options.include_soft_deleted, want_copies,
               [&](const node_type& current) {
                 prepared->deleted = current.deleted;  // stays soft-deleted if it was
                 return std::move(prepared);
               });
}

template <class T, class Key, class Hash, class KeyEqual>
template <class Mutate>
auto Store<T, Key, Hash, KeyEqual>::patch_impl(const Key& id, const Version& expected,
                                               Mutate&& mutate, WriteOptions options,
                                               bool want_copies) -> WriteOutcome {
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

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::flag_impl(const Key& id, const Version& expected,
                                              WriteKind kind, bool want_copies) -> WriteOutcome {
  return write(id, expected, kind, false, want_copies, [&](const node_type& current) {
    return copy_node(current.value, kind == WriteKind::soft_delete);
  });
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::erase_impl(const Key& id, const Version& expected,
                                               bool want_copies) -> WriteOutcome {
  return write(id, expected, WriteKind::erase, true, want_copies,
               [](const node_type&) { return node_ptr(); });
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::create_impl(Key id, T value, std::optional<record_type>& out)
    -> bool {
  detail::epoch::throttle();
  auto fresh = make_node(std::move(value), false);
  fresh->version = detail::next_version();
  fresh->revision = 1;
  out.emplace(record_type{std::move(id), fresh->value, fresh->version, 1, false, {}});
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

}  // namespace vkv
