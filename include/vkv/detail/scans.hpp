// Internal (users never include this directly): the multi-record reads of a store,
// find_many (grouped lookups under one Guard) and for_each (a sliced, lock-free scan of
// each shard's lookup table), over a StoreEngine (detail/store_engine.hpp).
//
// Thread safety: as the single-record reads. Neither holds a Guard while it calls back
// into user code or removes an expired record it met (an erase by the CAS at its node,
// StoreCore::remove_expired).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "vkv/detail/counters.hpp"
#include "vkv/detail/epoch.hpp"
#include "vkv/detail/expiry.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/options.hpp"

namespace vkv::detail {

// Ids looked up under one Guard in find_many (measured in bench/batch_benchmark.cpp):
// groups keep a huge batch from holding back reclamation for its whole length.
inline constexpr std::size_t kFindManyGroup = 64;
// Cells of a shard's lookup table that for_each copies under one Guard.
inline constexpr std::size_t kForEachSlice = 256;

template <class Engine, class Key>
auto scan_many(const Engine& engine, std::span<const Key> ids, ReadOptions options)
    -> std::vector<std::optional<typename Engine::record_type>> {
  using slot_type = typename Engine::slot_type;
  using node_type = typename Engine::node_type;
  const auto& index = engine.index();
  std::vector<std::optional<typename Engine::record_type>> answers;
  answers.reserve(ids.size());
  std::size_t i = 0;
  while (i < ids.size()) {
    const std::size_t end = ids.size() - i > kFindManyGroup ? i + kFindManyGroup : ids.size();
    bool met_expired = false;
    {
      epoch::Guard guard;
      for (; i < end; ++i) {
        const slot_type* slot = index.find(index.hashed(ids[i]));
        const node_type* node = slot != nullptr ? slot->load() : nullptr;
        if (node != nullptr && expired(*node)) [[unlikely]] {
          met_expired = true;  // removed below, outside this Guard; then ids[i] again
          break;
        }
        if (node == nullptr || (node->deleted && !options.include_soft_deleted)) {
          answers.emplace_back();
        } else {
          engine.touch(*node);  // a use, for the eviction order of a bounded store
          answers.emplace_back(make_record(ids[i], *node));
        }
      }
    }
    // "Absent because expired" is decided by the CAS that removes the record (as in
    // find()), never by the clock alone.
    if (met_expired) engine.remove_expired(ids[i], index.hashed(ids[i]));
  }
  // One counter step for the batch, once it can no longer throw.
  engine.counters().add(Counter::reads, ids.size());
  return answers;
}

template <class Engine, class F>
void scan_all(const Engine& engine, F& visit, ReadOptions options) {
  using Key = typename Engine::key_type;
  using slot_type = typename Engine::slot_type;
  using node_type = typename Engine::node_type;
  const auto& index = engine.index();
  std::vector<typename Engine::record_type> batch;
  // Expired records met in the slice (id, slot): removed after its Guard, read again.
  std::vector<std::pair<Key, const slot_type*>> expired_ids;
  // This shard's records already handed out (addresses, compared, never followed).
  std::vector<const slot_type*> seen;
  for (std::size_t i = 0; i < index.shard_count(); ++i) {
    seen.clear();
    std::size_t sorted = 0;  // seen[0, sorted) is sorted: handed out before a restart
    std::uint64_t generation = 0;
    std::size_t cell = 0;
    do {
      batch.clear();
      expired_ids.clear();
      {
        epoch::Guard guard;
        cell = index.scan_shard(
            i, generation, cell, kForEachSlice,
            [&](const Key& id, const slot_type& slot) {
              if (std::binary_search(seen.begin(), seen.begin() + sorted, &slot)) return;
              const node_type* node = slot.load();
              if (node == nullptr) return;
              if (expired(*node)) [[unlikely]] {
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
      // An expired record is absent only once the CAS at its node removed it; a write
      // that won that race left a record that is present. Only from the same slot: a
      // record re-created elsewhere meanwhile is the scan's.
      for (const auto& [id, slot] : expired_ids) {
        if (auto live = engine.read_removing_expired(id, index.hashed(id), options, slot)) {
          batch.push_back(std::move(*live));
        }
      }
      for (const auto& record : batch) std::invoke(visit, record);
    } while (cell != 0);
  }
}

}  // namespace vkv::detail
