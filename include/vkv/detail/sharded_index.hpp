// Internal (users never include this directly): the sharded index from key to
// record slot.
//
// Each shard is a tbb::concurrent_hash_map whose mapped value is the RecordSlot
// itself, stored inline in the map's node (one allocation per key, one pointer chase
// less per lookup), fronted by a LookupTable (detail/lookup_table.hpp) that holds the
// address of every entry: find() probes that table with plain loads and never takes a
// map lock, so reads and writes of existing keys neither wait nor write shared lines.
// Only creates and erases go through the map (and its accessors). The map's allocator
// defers every deallocation, and the destruction of every entry, through the epoch
// scheme, so an erased entry's key (with any heap memory it owns) and slot stay
// readable until no Guard can see them.
//
// Thread safety
//   find(), insert_or_revive(), remove_if_erased(), scan_shard() may run concurrently
//   from any threads; callers hold an epoch::Guard across them and for as long as they
//   use a returned slot. visit_shard() may run concurrently with all of them.
//
// Invariants:
//   1. An index accessor is held only inside this class, never across user code.
//   2. An entry whose slot is erased (head == nullptr) is either revived by a create
//      holding the entry's accessor, or removed by an eraser holding its write
//      accessor; the two exclude each other, so a removed slot is never revived.
//      Creates hold the write accessor while they insert and publish an entry, so a
//      racing create that finds the key present returns only after it is published.
//   3. The map is mutated (insert, erase) only under the shard's structure lock in
//      shared mode; visit_shard() takes it exclusively, because iterating a
//      concurrent_hash_map is not safe against concurrent insert/erase.
//   4. Deallocation is deferred (epoch::retire) while the index lives, and so is the
//      destruction of the entry it holds (DeferredAllocator: the key is destroyed in
//      the deferred free, never at erase), so every reader that reached an entry
//      under a Guard may compare and copy its key until that Guard ends. Callers
//      epoch::reserve(2) before a create or erase, which covers the one node the map
//      may free during an insert and the one it frees on erase. The owner's
//      destructor frees (and destroys) at once: no reader is left.
//   5. An entry is in its shard's LookupTable exactly while it is in the map
//      (LookupTable invariant 1): insert_or_revive() adds it holding the inserting
//      accessor, remove_if_erased() removes it holding the erasing one.
#pragma once

#include <oneapi/tbb/concurrent_hash_map.h>
#include <oneapi/tbb/spin_rw_mutex.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include "vkv/detail/epoch.hpp"
#include "vkv/detail/lookup_table.hpp"
#include "vkv/detail/node_pool.hpp"
#include "vkv/detail/version_generator.hpp"

namespace vkv::detail {

struct AllocatorState {
  // Set by the owner's destructor, when no other thread can use the index: frees
  // then need no grace period.
  std::atomic<bool> immediate{false};
};

// Set when the map failed to allocate a bucket segment (an allocation of more than one
// object: nodes are allocated one at a time). The map grows only after it has linked
// the node that made it grow, so such a failure escapes an insert that has already
// happened; insert_or_revive() uses this to tell that case from a failed insert.
inline thread_local bool segment_allocation_failed = false;

// The entry (pair<const Key, Slot>) that delete_node() destroyed last on this thread,
// whose destruction DeferredAllocator::destroy() deferred to the node's deallocation
// (see below). Set by destroy() and consumed by the deallocate() that oneTBB's
// delete_node() calls right after it, on the same thread.
inline thread_local const void* deferred_entry = nullptr;

// The map's allocator: every deallocation, and the destruction of every entry (its key
// included), is deferred through the epoch scheme while the index lives.
//
// Deferring the memory alone is not enough: oneTBB's delete_node() destroys the entry
// (allocator_traits::destroy on node->storage()) before it deallocates the node, and a
// Key that owns heap memory (a std::string past the small-buffer size, 15 characters)
// would free it at erase while lock-free readers still compare or copy the key. So
// destroy() does nothing for the map's entry type and records the entry; deallocate()
// of the node that holds it retires a deleter that destroys the entry, then frees the
// memory. A node that reaches deallocate() without that record is one whose entry was
// never built (its construction threw in create_node): only its memory is freed.
//
// `Entry` is the map's value_type; U is whatever oneTBB rebinds the allocator to (its
// node, its buckets). The node type must expose storage() returning the Entry*
// (oneTBB 2021: concurrent_hash_map::node::storage()); if a oneTBB release changes
// that, destroy() fails to compile instead of leaking or freeing keys early.
template <class U, class Entry = U>
class DeferredAllocator {
 public:
  using value_type = U;
  template <class V>
  struct rebind {
    using other = DeferredAllocator<V, Entry>;
  };

  explicit DeferredAllocator(const AllocatorState* state) noexcept : state_(state) {}
  template <class V>
  DeferredAllocator(const DeferredAllocator<V, Entry>& other) noexcept  // NOLINT: rebinding
      : state_(other.state()) {}

  U* allocate(std::size_t n) {
    try {
      if constexpr (alignof(U) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
        return static_cast<U*>(::operator new(n * sizeof(U), std::align_val_t(alignof(U))));
      } else {
        return static_cast<U*>(::operator new(n * sizeof(U)));
      }
    } catch (...) {
      if (n > 1) segment_allocation_failed = true;
      throw;
    }
  }

  // The map's entries are destroyed by deallocate() (deferred); everything else now.
  template <class V>
  void destroy(V* p) noexcept {
    if constexpr (std::is_same_v<V, Entry>) {
      static_assert(kHoldsEntry,
                    "oneTBB's node no longer exposes storage() -> value_type*: "
                    "DeferredAllocator cannot defer the destruction of index keys");
      deferred_entry = p;
    } else {
      p->~V();
    }
  }

  void deallocate(U* p, std::size_t n) noexcept {
    epoch::Deleter deleter = &free;
    std::size_t bytes = n * sizeof(U);
    if constexpr (kHoldsEntry) {
      // The entry is built (and ours to destroy) iff destroy() just deferred it; then the
      // heap its key owns is garbage too, and counts against the bound (epoch "Bounds").
      if (deferred_entry == p->storage()) {
        deleter = &destroy_entry_and_free;
        bytes += heap_bytes(p->storage()->first);
      }
      deferred_entry = nullptr;
    }
    // relaxed: set before destruction by the only thread that can still use the map.
    if (state_->immediate.load(std::memory_order_relaxed)) {
      deleter(p);
    } else {
      epoch::unlink_fence();  // epoch invariant 6: the map unlinked p under its locks
      epoch::retire(p, deleter, bytes);
    }
  }

  const AllocatorState* state() const noexcept { return state_; }
  friend bool operator==(const DeferredAllocator& a, const DeferredAllocator& b) noexcept {
    return a.state_ == b.state_;
  }

 private:
  static constexpr bool kHoldsEntry = requires(U * node) {
    { node->storage() } -> std::same_as<Entry*>;
  };

  static void free(void* p) noexcept {
    if constexpr (alignof(U) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
      ::operator delete(p, std::align_val_t(alignof(U)));
    } else {
      ::operator delete(p);
    }
  }
  static void destroy_entry_and_free(void* p) noexcept {
    if constexpr (kHoldsEntry) static_cast<U*>(p)->storage()->~Entry();
    free(p);
  }
  const AllocatorState* state_;
};

template <class Key, class Slot, class Hash, class KeyEqual>
class ShardedIndex {
 public:
  // A key with its hash computed once: shard choice and the map lookup share it.
  struct HashedKey {
    const Key* key;  // nullptr: a probe that matches nothing (see visit_shard)
    std::size_t hash;
    std::uint64_t mixed;  // mixed_of(hash): picks the shard (high bits), the table cell
                          // (low bits) and the cell's tag (bits 32..47)
  };

  // Whether Hash's output is mixed in every bit already. libstdc++'s
  // std::hash<std::string> is (_Hash_bytes, MurmurHash2 with its final mix), so the key
  // is not mixed a second time (~13 instructions an operation, tools/icount.sh); any
  // other hash is (std::hash<int> is the identity).
#if defined(__GLIBCXX__)
  static constexpr bool kHashMixed = std::is_same_v<Hash, std::hash<std::string>>;
#else
  static constexpr bool kHashMixed = false;
#endif
  static std::uint64_t mixed_of(std::size_t hash) noexcept {
    if constexpr (kHashMixed) {
      return static_cast<std::uint64_t>(hash);
    } else {
      return mix64(hash);
    }
  }

  struct HashCompare {
    using is_transparent = void;
    Hash hasher;
    KeyEqual key_equal;
    std::size_t hash(const Key& key) const { return hasher(key); }
    std::size_t hash(const HashedKey& key) const { return key.hash; }
    bool equal(const Key& a, const Key& b) const { return key_equal(a, b); }
    bool equal(const HashedKey& a, const Key& b) const {
      return a.key != nullptr && key_equal(*a.key, b);
    }
  };

  using value_type = std::pair<const Key, Slot>;
  using Allocator = DeferredAllocator<value_type, value_type>;
  using Map = tbb::concurrent_hash_map<Key, Slot, HashCompare, Allocator>;

  struct alignas(64) Shard {
    Shard(const HashCompare& compare, const AllocatorState* state)
        : map(compare, Allocator(state)) {}
    Map map;
    LookupTable table;                   // invariant 5
    tbb::spin_rw_mutex structure_mutex;  // invariant 3
    // Records not soft-deleted, for size(): relaxed, exact once writers are quiet.
    std::atomic<std::int64_t> live{0};
  };

  explicit ShardedIndex(std::size_t requested_shards, Hash hash = Hash(), KeyEqual eq = KeyEqual())
      : hash_compare_{std::move(hash), std::move(eq)} {
    std::size_t count = requested_shards;
    if (count == 0) {
      const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
      count = std::max<std::size_t>(8, hw * 4);
    }
    count = std::bit_ceil(count);
    shard_bits_ = static_cast<unsigned>(std::countr_zero(count));
    shard_count_ = count;
    shards_ = std::allocator<Shard>().allocate(count);
    std::size_t built = 0;
    try {
      for (; built < count; ++built) new (&shards_[built]) Shard(hash_compare_, &allocator_state_);
    } catch (...) {
      destroy(built);
      throw;
    }
  }

  ~ShardedIndex() {
    allocator_state_.immediate.store(true, std::memory_order_relaxed);
    destroy(shard_count_);
  }

  ShardedIndex(const ShardedIndex&) = delete;
  ShardedIndex& operator=(const ShardedIndex&) = delete;

  HashedKey hashed(const Key& key) const {
    const std::size_t hash = hash_compare_.hasher(key);
    return HashedKey{&key, hash, mixed_of(hash)};
  }

  Shard& shard_for(const HashedKey& key) const noexcept {
    if (shard_bits_ == 0) return shards_[0];
    // The map buckets on the low bits of the hash; the shard comes from the high bits
    // of a mixed hash, so weak hashes (std::hash<int> is the identity) still spread.
    return shards_[key.mixed >> (64 - shard_bits_)];
  }

  std::size_t shard_count() const noexcept { return shard_count_; }
  Shard& shard(std::size_t i) const noexcept { return shards_[i]; }

  // The slot of `key`, or nullptr. Lock-free: plain loads of the shard's LookupTable,
  // no lock, no read-modify-write. The caller holds a Guard.
  // Always inlined: out of line, its prologue and epilogue cost ~16 instructions a
  // lookup (tools/icount.sh).
  [[gnu::always_inline]] const Slot* find(const HashedKey& key) const {
    const value_type* entry = shard_for(key).table.template find<const value_type>(
        key.mixed, [&](const value_type& candidate) {
          return hash_compare_.key_equal(*key.key, candidate.first);
        });
    return entry != nullptr ? &entry->second : nullptr;
  }

  enum class InsertOutcome { inserted, revived, exists };

  // Makes `fresh` the record of `key`: a new entry, or the revival of an erased slot.
  // Otherwise leaves everything as it was and sets `existing` to the current node.
  // The caller holds a Guard and has reserved two retirements (invariant 4).
  template <class Node>
  InsertOutcome insert_or_revive(const HashedKey& key, Node* fresh, Node*& existing) {
    Shard& shard = shard_for(key);
    tbb::spin_rw_mutex::scoped_lock structure(shard.structure_mutex, /*write=*/false);
    // Room in the lookup table first (LookupTable invariant 3): a full table is rebuilt
    // under the structure lock held exclusively, before anything is inserted.
    while (!shard.table.reserve()) {
      structure.release();
      rebuild_table(shard);  // may throw std::bad_alloc: nothing changed
      structure.acquire(shard.structure_mutex, /*write=*/false);
    }
    // A write accessor, not a read one: a racing create of the same key (which reports
    // "exists") must wait until our entry is in the lookup table, or a read made after
    // that create returned could still miss the record.
    typename Map::accessor accessor;
    segment_allocation_failed = false;
    try {
      if (shard.map.emplace(accessor, std::piecewise_construct, std::forward_as_tuple(*key.key),
                            std::forward_as_tuple(fresh))) {
        shard.table.insert(key.mixed, &*accessor);  // the create's linearization point
        return InsertOutcome::inserted;
      }
    } catch (...) {
      // oneTBB links the new node, then grows the table; if growing runs out of memory
      // the exception escapes an insert that took place (the table stays consistent,
      // merely not grown). The record is in and must be published in the lookup table
      // (no allocation: the cell was reserved); the create has happened and must
      // report success.
      if (!segment_allocation_failed) {
        shard.table.unreserve();
        throw;
      }
      segment_allocation_failed = false;
      accessor.release();
      // Our entry is the key's (nobody can erase a record that no reader can find).
      if (shard.map.find(accessor, key)) shard.table.insert(key.mixed, &*accessor);
      return InsertOutcome::inserted;
    }
    shard.table.unreserve();
    // The accessor excludes remove_if_erased() (invariant 2).
    for (;;) {
      // A commit in flight on this slot is resolved first: it may be erasing it.
      existing = accessor->second.load_for_write();
      if (existing != nullptr) return InsertOutcome::exists;
      std::uintptr_t observed;
      if (accessor->second.install(nullptr, fresh, observed)) return InsertOutcome::revived;
    }
  }

  // After an erase won its compare-and-swap on `slot`: drops the entry unless a create
  // revived it meanwhile (or someone else dropped it).
  void remove_if_erased(const HashedKey& key, const Slot* slot) {
    Shard& shard = shard_for(key);
    tbb::spin_rw_mutex::scoped_lock structure(shard.structure_mutex, /*write=*/false);
    typename Map::accessor accessor;
    // acquire: pairs with the erasing compare-and-swap. A word still holding a commit's
    // entry is not "erased" yet: that commit's owner calls us again after releasing it.
    if (shard.map.find(accessor, key) && &accessor->second == slot &&
        accessor->second.word.load(std::memory_order_acquire) == 0) {
      shard.table.remove(key.mixed, &*accessor);  // before the entry can be retired
      shard.map.erase(accessor);
    }
  }

  // Calls on_entry(key, slot) for the entries in cells [begin, begin + count) of shard
  // i's lookup table and returns the cell to go on from (0 when done). `generation`
  // names the table the previous slice scanned (in) and this one (out): if the table
  // was rebuilt in between (cell numbers then mean something else), on_restart() is
  // called and the slice starts over at cell 0. Lock-free; the caller holds a Guard
  // for the call only.
  template <class OnEntry, class OnRestart>
  std::size_t scan_shard(std::size_t i, std::uint64_t& generation, std::size_t begin,
                         std::size_t count, OnEntry&& on_entry, OnRestart&& on_restart) const {
    const LookupTable::Cells* cells = shards_[i].table.cells();
    if (begin != 0 && cells->generation != generation) {
      on_restart();
      begin = 0;
    }
    generation = cells->generation;
    const std::size_t capacity = cells->mask + 1;
    const std::size_t end = begin + count < capacity ? begin + count : capacity;
    for (std::size_t c = begin; c < end; ++c) {
      // acquire: as in LookupTable::find.
      const std::uintptr_t word = cells->cell[c].load(std::memory_order_acquire);
      if (word == LookupTable::kEmpty || word == LookupTable::kTombstone) continue;
      const value_type* entry = LookupTable::entry_of<const value_type>(word);
      on_entry(entry->first, entry->second);
    }
    return end == capacity ? 0 : end;
  }

  // Calls visit(key, slot) for every entry of shard i, with the shard's structure
  // lock held exclusively: visit must not call into the index or run user code.
  //
  // Iterating a concurrent_hash_map is unsafe not only against insert and erase
  // (excluded by the structure lock) but also against the map's lazy rehashing: after
  // the map grows, the first lookup that reaches a new bucket moves nodes into it
  // from its parent, and an iterator standing on a moved node would follow it into the
  // other chain (skipping records, or meeting them twice). So we first finish every
  // pending bucket split ourselves, through the map's own locked lookup path: a probe
  // whose hash is the bucket's index and that matches no key. With inserts excluded
  // the map cannot grow again, so concurrent finds no longer move anything while we
  // iterate.
  template <class Visit>
  void visit_shard(std::size_t i, Visit&& visit) const {
    Shard& shard = shards_[i];
    tbb::spin_rw_mutex::scoped_lock structure(shard.structure_mutex, /*write=*/true);
    const std::size_t buckets = shard.map.bucket_count();
    for (std::size_t bucket = 0; bucket < buckets; ++bucket) {
      typename Map::const_accessor probe;
      shard.map.find(probe, HashedKey{nullptr, bucket, 0});
    }
    for (auto& entry : shard.map) visit(entry.first, entry.second);
  }

 private:
  // Rebuilds shard's lookup table under its structure lock held exclusively, unless
  // another thread made room meanwhile.
  void rebuild_table(Shard& shard) {
    tbb::spin_rw_mutex::scoped_lock structure(shard.structure_mutex, /*write=*/true);
    if (shard.table.reserve()) {
      shard.table.unreserve();
      return;
    }
    shard.table.rebuild([this](const void* entry) {
      return mixed_of(hash_compare_.hasher(static_cast<const value_type*>(entry)->first));
    });
  }

  void destroy(std::size_t built) noexcept {
    for (std::size_t i = 0; i < built; ++i) shards_[i].~Shard();
    std::allocator<Shard>().deallocate(shards_, shard_count_);
  }

  HashCompare hash_compare_;
  AllocatorState allocator_state_;
  Shard* shards_ = nullptr;
  std::size_t shard_count_ = 0;
  unsigned shard_bits_ = 0;
};

}  // namespace vkv::detail
