// Internal (users never include this directly): sampling of a store's records for
// eviction and active expiry (detail/eviction.hpp, detail/expiry.hpp).
//
// sample_cells() starts at a random cell of a random shard's LookupTable and walks
// `probes` cells forward (on into the next shard's table at a table's end), calling
// on_entry for each cell that holds an entry, until on_entry returns false. It reads
// cells with the same acquire loads as LookupTable::find, under the caller's Guard, so
// an entry it hands out stays dereferenceable for that Guard (LookupTable invariant 4);
// the entry may have been erased since (its slot then holds nullptr).
//
// Thread safety
//   Any number of threads may sample at once, concurrently with every index
//   operation. The random state is per thread.
//
// Invariants:
//   1. At most `probes` cells are read per call: the work per call is bounded.
//   2. No write to shared memory (sampling is read-only; the caller decides what to
//      remove, by a compare-and-swap at the node it saw).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "vkv/detail/epoch.hpp"
#include "vkv/detail/lookup_table.hpp"

namespace vkv::detail {

// xorshift64*, one state per thread, seeded from the thread's epoch record index (so a
// single-threaded run samples the same cells every time: reproducible tests). Called
// under a Guard only, so the thread is attached and this_thread() cannot throw.
inline std::uint64_t sample_random() noexcept {
  thread_local std::uint64_t state = 0;
  if (state == 0) state = (epoch::this_thread_index() + 1) * 0x9E3779B97F4A7C15ULL | 1;
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

template <class Index, class OnEntry>
void sample_cells(const Index& index, std::size_t probes, OnEntry&& on_entry) {
  using Entry = const typename Index::value_type;
  const std::uint64_t r = sample_random();
  const std::size_t shard_mask = index.shard_count() - 1;  // a power of two
  std::size_t shard = static_cast<std::size_t>(r >> 32) & shard_mask;
  const LookupTable::Cells* cells = index.shard(shard).table.cells();
  std::size_t cell = static_cast<std::size_t>(r) & cells->mask;
  for (std::size_t p = 0; p < probes; ++p) {
    // acquire: pairs with LookupTable::insert's release (the entry is built).
    const std::uintptr_t word = cells->cell[cell].load(std::memory_order_acquire);
    if (word != LookupTable::kEmpty && word != LookupTable::kTombstone) {
      if (!on_entry(*LookupTable::entry_of<Entry>(word))) return;
    }
    if (++cell > cells->mask) {
      shard = (shard + 1) & shard_mask;
      cells = index.shard(shard).table.cells();
      cell = 0;
    }
  }
}

}  // namespace vkv::detail
