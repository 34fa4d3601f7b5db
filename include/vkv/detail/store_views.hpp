// Internal (users never include this directly; vkv/store.hpp includes it): the multi-record reads:
// Store::find_many and Store::for_each (sliced, lock-free scans of the shards' lookup tables).
#pragma once

#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::find_many(std::span<const Key> ids, ReadOptions options) const
    -> std::vector<std::optional<record_type>> {
  std::vector<std::optional<record_type>> answers;
  answers.reserve(ids.size());
  // One Guard per group of ids instead of one per id (measured in
  // bench/batch_benchmark.cpp); groups keep a huge batch from holding back
  // reclamation for its whole length.
  constexpr std::size_t kGroup = 64;
  std::size_t i = 0;
  while (i < ids.size()) {
    const std::size_t end = ids.size() - i > kGroup ? i + kGroup : ids.size();
    bool met_expired = false;
    {
      detail::epoch::Guard guard;
      for (; i < end; ++i) {
        const slot_type* slot = index_.find(index_.hashed(ids[i]));
        const node_type* node = slot != nullptr ? slot->load() : nullptr;
        if (node != nullptr && node->expires != 0 && expired(*node)) [[unlikely]] {
          met_expired = true;  // removed below, outside this Guard; then ids[i] again
          break;
        }
        if (node == nullptr || (node->deleted && !options.include_soft_deleted)) {
          answers.emplace_back();
        } else {
          touch(*node);  // a use, for the eviction order of a bounded store
          answers.emplace_back(make_record(ids[i], *node));
        }
      }
    }
    // "Absent because expired" is decided by the CAS that removes the record (as in
    // find()), never by the clock alone: a write that checked the record before its
    // stamp passed may still install over it until it is removed.
    if (met_expired) remove_expired(ids[i], index_.hashed(ids[i]));
  }
  // One counter step for the batch, once it can no longer throw.
  counters_.add(detail::Counter::reads, ids.size());
  return answers;
}

template <class T, class Key, class Hash, class KeyEqual>
template <class F>
auto Store<T, Key, Hash, KeyEqual>::for_each(F&& visit, ReadOptions options) const -> void {
  std::vector<record_type> batch;
  // Expired records met in the slice (id, slot): removed after its Guard, read again.
  std::vector<std::pair<Key, const slot_type*>> expired_ids;
  // This shard's records already handed out (addresses, compared, never followed).
  std::vector<const slot_type*> seen;
  for (std::size_t i = 0; i < index_.shard_count(); ++i) {
    seen.clear();
    std::size_t sorted = 0;  // seen[0, sorted) is sorted: handed out before a restart
    std::uint64_t generation = 0;
    std::size_t cell = 0;
    do {
      batch.clear();
      expired_ids.clear();
      {
        detail::epoch::Guard guard;
        cell = index_.scan_shard(
            i, generation, cell, kForEachSlice,
            [&](const Key& id, const slot_type& slot) {
              if (std::binary_search(seen.begin(), seen.begin() + sorted, &slot)) return;
              const node_type* node = slot.load();
              if (node == nullptr) return;
              if (node->expires != 0 && expired(*node)) [[unlikely]] {
                expired_ids.emplace_back(id, &slot);
                seen.push_back(&slot);  // decided below, once
              } else if (!node->deleted || options.include_soft_deleted) {
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
      // An expired record is absent only once the CAS at its node removed it (as in
      // find()); a write that won that race left a record that is present.
      // Only from the same slot: a record re-created elsewhere meanwhile is the scan's.
      for (const auto& [id, slot] : expired_ids) {
        if (auto live = read_removing_expired(id, index_.hashed(id), options, slot)) {
          batch.push_back(std::move(*live));
        }
      }
      for (const record_type& record : batch) std::invoke(visit, record);
    } while (cell != 0);
  }
}

}  // namespace vkv
