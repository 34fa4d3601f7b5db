// Internal (users never include this directly): the lock-free lookup table that sits
// in front of one shard's tbb::concurrent_hash_map, so that reads and writes of keys
// that are in the store find their record slot with plain loads: no lock, no atomic
// read-modify-write, no wait behind an eraser.
//
// The concurrent_hash_map stays the index of record (creates and erases go through it,
// holding its accessors); this table holds the address of every map entry (the pair
// <const Key, Slot> that lives in the map's node), in an open-addressed array probed
// linearly. A cell is one atomic word:
//   0                       empty: ends a probe
//   1                       tombstone: an entry was removed here; probes go past it
//   (tag << 48) | address   an entry; tag = 16 bits of the mixed hash not used to
//                           pick the shard or the cell, compared before the key
//
// Thread safety
//   find() may run concurrently with everything, under an epoch::Guard. insert() and
//   remove() run under the shard's structure lock in shared mode, each holding the
//   map accessor of the entry it inserts or removes (so no two calls touch one key at
//   once). rebuild() runs under the structure lock in exclusive mode.
//
// Invariants:
//   1. Every entry of the map is in the current table from just after the map insert
//      that made it until just before the map erase that drops it (insert() runs
//      under the inserting accessor, remove() under the erasing one). A key is in at
//      most one cell of a table.
//   2. A cell holding an address is only ever changed to a tombstone (remove), and a
//      tombstone or empty cell only to an address (insert): no address is moved.
//   3. The table never fills: `used` counts non-empty cells plus reserved inserts and
//      is kept at or below half the capacity (reserve() fails past it; the caller
//      then rebuilds), so every probe meets an empty cell.
//   4. rebuild() publishes a new table (release) and retires the old one; the old one
//      is never written again. Entries are retired (by the map's deferred allocator)
//      only after remove(), and destroyed only when retirement frees them, so an
//      address read from any table under a Guard stays dereferenceable, its key
//      readable (heap memory included), until that Guard ends. A reader that probed
//      a table that has since been replaced and found nothing probes again (a key
//      inserted after the rebuild is only in the new table); an address found in an
//      old table is still the key's entry if its slot is not erased (an entry dropped
//      from the map is erased for good: ShardedIndex invariant 2).
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>

#include "vkv/detail/epoch.hpp"

namespace vkv::detail {

class LookupTable {
 public:
  static constexpr std::uintptr_t kEmpty = 0;
  static constexpr std::uintptr_t kTombstone = 1;
  static constexpr std::size_t kMinCapacity = 16;

  struct Cells {
    std::size_t mask;                     // capacity - 1
    std::uint64_t generation;             // one more than the table it replaced (for scans)
    std::atomic<std::uintptr_t> cell[1];  // really `mask + 1` of them

    static Cells* make(std::size_t capacity, std::uint64_t generation) {
      const std::size_t bytes =
          sizeof(Cells) + (capacity - 1) * sizeof(std::atomic<std::uintptr_t>);
      void* memory = ::operator new(bytes);  // may throw: nothing published yet
      auto* cells = static_cast<Cells*>(memory);
      cells->mask = capacity - 1;
      cells->generation = generation;
      for (std::size_t i = 0; i < capacity; ++i) {
        new (&cells->cell[i]) std::atomic<std::uintptr_t>(kEmpty);
      }
      return cells;
    }
    static void destroy(void* cells) noexcept { ::operator delete(cells); }
    std::size_t bytes() const noexcept {
      return sizeof(Cells) + mask * sizeof(std::atomic<std::uintptr_t>);
    }
  };

  LookupTable() : cells_(Cells::make(kMinCapacity, 0)) {}
  ~LookupTable() { Cells::destroy(cells_.load(std::memory_order_relaxed)); }
  LookupTable(const LookupTable&) = delete;
  LookupTable& operator=(const LookupTable&) = delete;

  static std::uintptr_t tag_of(std::uint64_t mixed) noexcept {
    return static_cast<std::uintptr_t>((mixed >> 32) & 0xffff) << 48;
  }
  static std::uintptr_t word_of(std::uint64_t mixed, const void* entry) noexcept {
    return tag_of(mixed) | reinterpret_cast<std::uintptr_t>(entry);
  }
  template <class Entry>
  static Entry* entry_of(std::uintptr_t word) noexcept {
    return reinterpret_cast<Entry*>(word & ((std::uintptr_t{1} << 48) - 1));
  }

  // The entry whose key matches(), or nullptr. Plain loads only; never waits.
  // `mixed` is the key's mixed hash (ShardedIndex::mixed_of). The caller holds a Guard.
  template <class Entry, class Matches>
  // Always inlined into ShardedIndex::find, the hot path of every read and write.
  [[gnu::always_inline]] Entry* find(std::uint64_t mixed, Matches&& matches) const {
    const std::uintptr_t tag = tag_of(mixed);
    for (;;) {
      // acquire: pairs with rebuild()'s release, so the new table's cells are visible.
      const Cells* cells = cells_.load(std::memory_order_acquire);
      for (std::size_t i = mixed & cells->mask;; i = (i + 1) & cells->mask) {
        // acquire: pairs with insert()'s release, so the entry's key and slot are
        // visible before we read them.
        const std::uintptr_t word = cells->cell[i].load(std::memory_order_acquire);
        if (word == kEmpty) break;
        if (word == kTombstone || (word & ~((std::uintptr_t{1} << 48) - 1)) != tag) continue;
        Entry* entry = entry_of<Entry>(word);
        if (matches(*entry)) return entry;
      }
      // A miss in a table that was replaced meanwhile proves nothing (invariant 4).
      // acquire: as above.
      if (cells_.load(std::memory_order_acquire) == cells) return nullptr;
    }
  }

  // Claims room for one insert (invariant 3); false if the table must be rebuilt
  // first. Called under the structure lock in shared mode.
  bool reserve() noexcept {
    // relaxed: a count only; the structure lock orders it against rebuild().
    const std::size_t capacity = cells_.load(std::memory_order_relaxed)->mask + 1;
    if (used_.fetch_add(1, std::memory_order_relaxed) + 1 <= capacity / 2) return true;
    used_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  // Gives back a reservation that did not become an insert.
  void unreserve() noexcept { used_.fetch_sub(1, std::memory_order_relaxed); }

  // Publishes `entry` (reserved before). Under the entry's map accessor.
  void insert(std::uint64_t mixed, const void* entry) noexcept {
    Cells* cells = cells_.load(std::memory_order_relaxed);  // stable under the lock
    const std::uintptr_t word = word_of(mixed, entry);
    for (std::size_t i = mixed & cells->mask;; i = (i + 1) & cells->mask) {
      std::uintptr_t seen = cells->cell[i].load(std::memory_order_relaxed);
      while (seen == kEmpty || seen == kTombstone) {
        // release: publishes the entry (built by the map before) to find()'s acquire.
        // A failure means another insert took the cell: look at what it put there.
        if (cells->cell[i].compare_exchange_weak(seen, word, std::memory_order_release,
                                                 std::memory_order_relaxed)) {
          if (seen == kTombstone) unreserve();  // the cell was counted already
          return;
        }
      }
    }
  }

  // Removes `entry` (invariant 1: it is there). Under the entry's erasing accessor.
  void remove(std::uint64_t mixed, const void* entry) noexcept {
    Cells* cells = cells_.load(std::memory_order_relaxed);
    const std::uintptr_t word = word_of(mixed, entry);
    for (std::size_t i = mixed & cells->mask;; i = (i + 1) & cells->mask) {
      if (cells->cell[i].load(std::memory_order_relaxed) == word) {
        // release: orders the removal before the map erase and the retirement that
        // follow in program order, for readers that go on to see the tombstone.
        cells->cell[i].store(kTombstone, std::memory_order_release);
        return;
      }
    }
  }

  // Replaces the table by one with room for twice the live entries (tombstones
  // dropped). Under the structure lock in exclusive mode. mixed_of(entry) gives an
  // entry's mixed hash. May throw std::bad_alloc before changing anything.
  template <class MixedOf>
  void rebuild(MixedOf&& mixed_of) {
    Cells* old = cells_.load(std::memory_order_relaxed);
    const std::size_t old_capacity = old->mask + 1;
    std::size_t live = 0;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      const std::uintptr_t word = old->cell[i].load(std::memory_order_relaxed);
      if (word != kEmpty && word != kTombstone) ++live;
    }
    // Live entries fill at most a quarter of the new table, so a rebuild buys at least
    // as many inserts as there are live entries (amortised O(1) per insert).
    std::size_t capacity = std::bit_ceil(live * 4 + 1);
    if (capacity < kMinCapacity) capacity = kMinCapacity;
    epoch::reserve(1);  // for retiring `old`: may throw, nothing changed
    Cells* fresh = Cells::make(capacity, old->generation + 1);
    for (std::size_t i = 0; i < old_capacity; ++i) {
      const std::uintptr_t word = old->cell[i].load(std::memory_order_relaxed);
      if (word == kEmpty || word == kTombstone) continue;
      const std::uint64_t mixed = mixed_of(entry_of<const void>(word));
      for (std::size_t j = mixed & fresh->mask;; j = (j + 1) & fresh->mask) {
        if (fresh->cell[j].load(std::memory_order_relaxed) == kEmpty) {
          fresh->cell[j].store(word, std::memory_order_relaxed);
          break;
        }
      }
    }
    // relaxed: no reservation is in flight (exclusive lock).
    used_.store(live, std::memory_order_relaxed);
    // release: the cells written above are visible to whoever acquires the pointer.
    cells_.store(fresh, std::memory_order_release);
    epoch::unlink_fence();  // epoch invariant 6
    epoch::retire(old, &Cells::destroy, old->bytes());
  }

  // For visit_shard-style iteration and tests: the current cells.
  const Cells* cells() const noexcept { return cells_.load(std::memory_order_acquire); }
  std::size_t capacity() const noexcept { return cells()->mask + 1; }

 private:
  std::atomic<Cells*> cells_;
  std::atomic<std::size_t> used_{0};  // invariant 3
};

}  // namespace vkv::detail
