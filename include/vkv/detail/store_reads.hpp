// Internal (users never include this directly; vkv/store.hpp includes it): the
// single-record reads, Store::find and Store::visit. Both probe the lookup table with
// plain loads (no lock, no atomic read-modify-write); a record that has expired is
// removed by the compare-and-swap at its node (remove_expired, detail/store_cache.hpp:
// an erase, so it writes) and the slot is read again: a read reports a record absent
// because it expired only after that CAS (its own, or another thread's) removed it. In a bounded
// store they record the use (touch(): a store only when the LRU clock moved since the record's last
// use).
#pragma once

#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::find(const Key& id, ReadOptions options) const
    -> std::optional<record_type> {
  counters_.add(detail::Counter::reads);
  return read_removing_expired(id, index_.hashed(id), options, nullptr);
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::read_removing_expired(const Key& id, const HashedKey& key,
                                                          ReadOptions options,
                                                          const slot_type* only) const
    -> std::optional<record_type> {
  for (;;) {
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      if (slot == nullptr || (only != nullptr && slot != only)) return std::nullopt;
      const node_type* node = slot->load();
      if (node == nullptr) return std::nullopt;
      if (node->expires == 0 || !expired(*node)) [[likely]] {
        touch(*node);
        if (node->deleted && !options.include_soft_deleted) return std::nullopt;
        return std::optional<record_type>(std::in_place, RecordOf{id, *node});
      }
    }
    remove_expired(id, key);
  }
}

template <class T, class Key, class Hash, class KeyEqual>
template <class F>
bool Store<T, Key, Hash, KeyEqual>::visit(const Key& id, F&& f, ReadOptions options) const {
  counters_.add(detail::Counter::reads);
  const auto key = index_.hashed(id);
  for (;;) {
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      if (slot == nullptr) return false;
      const node_type* node = slot->load();
      if (node == nullptr) return false;
      if (node->expires == 0 || !expired(*node)) [[likely]] {
        touch(*node);
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

}  // namespace vkv
