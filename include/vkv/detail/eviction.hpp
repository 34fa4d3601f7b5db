// Internal (users never include this directly): the capacity bound
// (StoreOptions::max_records) and its sampled approximate-LRU eviction. docs/design.md,
// "Cache layer".
//
// A bounded store counts its records (soft-deleted included) and, after a create that
// took the count above the bound, evicts until it is back at the bound. A victim is the
// best of up to kEvictionSample records met in kEvictionProbes cells sampled at random
// (detail/eviction_sampler.hpp): expired first, then soft-deleted, then the least
// recently used by a coarse LRU clock that ticks every `tick` evictions of a thread.
// The removal itself is the erase compare-and-swap at the victim's node
// (StoreCore::remove_node, detail/store_core.hpp).
//
// Thread safety
//   Any number of threads may call every member at once. The count and the clock are
//   relaxed atomics: hints and a statistic, never used to decide a write.
//
// Invariants:
//   1. The count (bounded stores) is the number of slots holding a node: +1 by the
//      insert or revival that filled one, -1 by the erase CAS that emptied one (erase,
//      commit erase, removal); a replacement leaves it unchanged
//      (StoreCore::settle, detail/store_core.hpp). While writers race, each creator
//      evicts until it sees the store at the bound (the slack: docs/design.md).
//   2. The bound never evicts the record its triggering write (a create, or a put that
//      created) just wrote: the newest record is the most recently used one.
//      pick_victim() skips that key's slot in its sample.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "vkv/detail/eviction_sampler.hpp"
#include "vkv/detail/expiry_clock.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/detail/record_slot.hpp"

namespace vkv::detail {

// Cells an eviction samples at most, and the candidates it compares.
inline constexpr std::size_t kEvictionProbes = 128;
inline constexpr std::size_t kEvictionSample = 8;

class LruBound {
 public:
  explicit LruBound(std::size_t max_records) noexcept
      : max_(max_records),
        tick_(static_cast<std::uint32_t>(
            std::clamp<std::size_t>(max_records / 64, std::size_t{1}, std::size_t{16}))) {}

  bool bounded() const noexcept { return max_ != 0; }

  // Records a use of node for the eviction order (bounded stores only). relaxed, both:
  // a hint. Test, then store: the node's line is written once per clock tick, not once
  // per read.
  template <class T>
  void touch(const Node<T>& node) const noexcept {
    if (max_ == 0) return;
    const std::uint32_t now = clock_.load(std::memory_order_relaxed);
    if (node.used.load(std::memory_order_relaxed) != now) {
      node.used.store(now, std::memory_order_relaxed);
    }
  }

  // A fresh node's use stamp, before it is published (the installing CAS releases it).
  // relaxed: a hint; the node is not shared yet.
  template <class T>
  void stamp(Node<T>& node) const noexcept {
    if (max_ != 0)
      node.used.store(clock_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }

  // The count (invariant 1). relaxed: the bound's slack is documented.
  void added() const noexcept {
    if (max_ != 0) records_.fetch_add(1, std::memory_order_relaxed);
  }
  void removed() const noexcept {
    if (max_ != 0) records_.fetch_sub(1, std::memory_order_relaxed);
  }
  // relaxed: exact once writers are quiet.
  bool over() const noexcept {
    return max_ != 0 && records_.load(std::memory_order_relaxed) > static_cast<std::int64_t>(max_);
  }

  // After an eviction by this thread: the LRU clock ticks every tick_ of them.
  // relaxed: a hint.
  void note_eviction() const noexcept {
    thread_local std::uint32_t evicted = 0;
    if (++evicted % tick_ == 0) clock_.fetch_add(1, std::memory_order_relaxed);
  }

  // The best victim of one sample, never the slot `spared` (invariant 2); under the
  // caller's Guard. `ttl_seen`: whether expired stamps need looking at. Returns no
  // entry when the sample met no other record (the caller samples again).
  template <class T, class Index>
  struct Victim {
    const typename Index::value_type* entry = nullptr;
    Node<T>* node = nullptr;
    bool expired = false;
  };
  template <class T, class Index>
  Victim<T, Index> pick_victim(const Index& index, const RecordSlot<T>* spared,
                               bool ttl_seen) const noexcept {
    Victim<T, Index> victim;
    int victim_rank = 3;
    std::uint32_t victim_age = 0;
    std::size_t seen = 0;
    const std::int64_t now = ttl_seen ? passed_bound() : 0;  // stamps at or below it passed
    const std::uint32_t clock = clock_.load(std::memory_order_relaxed);  // relaxed: a hint
    sample_cells(index, kEvictionProbes, [&](const typename Index::value_type& entry) {
      // acquire: pairs with the installing CAS's release (the node's fields).
      const std::uintptr_t word = entry.second.word.load(std::memory_order_acquire);
      if (word == 0 || is_entry_word(word)) return true;  // erased, or in a commit
      if (&entry.second == spared) return true;
      Node<T>* node = word_node<T>(word);
      const int rank = node->expires != 0 && node->expires <= now ? 0 : node->deleted ? 1 : 2;
      // relaxed: a hint, as in touch().
      const std::uint32_t age = clock - node->used.load(std::memory_order_relaxed);
      if (rank < victim_rank || (rank == victim_rank && age > victim_age)) {
        victim.entry = &entry;
        victim.node = node;
        victim_rank = rank;
        victim_age = age;
      }
      return ++seen < kEvictionSample;
    });
    victim.expired = victim_rank == 0;
    return victim;
  }

 private:
  std::size_t max_;
  std::uint32_t tick_;
  // Records in the store, soft-deleted included (bounded stores only). Its own cache
  // line: written by every create and erase of a bounded store.
  alignas(64) mutable std::atomic<std::int64_t> records_{0};
  // The coarse LRU clock. Its own line: read by every find and visit of a bounded
  // store, written rarely.
  alignas(64) mutable std::atomic<std::uint32_t> clock_{0};
};

}  // namespace vkv::detail
