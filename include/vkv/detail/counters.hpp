// Internal (users never include this directly): a store's statistics counters.
//
// Thread safety
//   add() may be called from any thread; sum() from any thread at any time (it is not
//   a snapshot while writers run, but never loses or tears a count).
//
// Invariants:
//   1. Cell i < kOwnedCells is written only by the thread that owns epoch
//      ThreadRecord i (unique among live threads), so it increments with a relaxed
//      load and store: no read-modify-write, no shared hot cache line.
//   2. Threads whose record index is >= kOwnedCells share kSharedCells cells and use
//      relaxed fetch_add; they never touch an owned cell.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "vkv/detail/epoch.hpp"
#include "vkv/stats.hpp"

namespace vkv::detail {

enum class Counter : std::size_t {
  reads,
  creates,
  writes,
  conflicts,
  not_found,
  retries,
  retries_exhausted,
  turns,
  expirations,
  evictions,
  count_
};

class StoreCounters {
 public:
  StoreCounters() : cells_(new Cell[kOwnedCells + kSharedCells]) {}

  // Inlined into every operation: out of line, the call costs about as much as the
  // count (tools/icount.sh).
  [[gnu::always_inline]] void add(Counter counter, std::uint64_t amount = 1) {
    const std::uint64_t index = epoch::this_thread_index();
    auto& value =
        index < kOwnedCells
            ? cells_[index].values[static_cast<std::size_t>(counter)]
            : cells_[kOwnedCells + index % kSharedCells].values[static_cast<std::size_t>(counter)];
    if (index < kOwnedCells) {
      // relaxed: single writer (invariant 1); readers only need an untorn value.
      value.store(value.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
    } else {
      value.fetch_add(amount, std::memory_order_relaxed);  // shared cell (invariant 2)
    }
  }

  StoreStats sum() const noexcept {
    std::array<std::uint64_t, static_cast<std::size_t>(Counter::count_)> totals{};
    for (std::size_t c = 0; c < kOwnedCells + kSharedCells; ++c) {
      for (std::size_t i = 0; i < totals.size(); ++i) {
        totals[i] += cells_[c].values[i].load(std::memory_order_relaxed);
      }
    }
    StoreStats stats;
    stats.reads = totals[static_cast<std::size_t>(Counter::reads)];
    stats.creates = totals[static_cast<std::size_t>(Counter::creates)];
    stats.writes = totals[static_cast<std::size_t>(Counter::writes)];
    stats.conflicts = totals[static_cast<std::size_t>(Counter::conflicts)];
    stats.not_found = totals[static_cast<std::size_t>(Counter::not_found)];
    stats.retries = totals[static_cast<std::size_t>(Counter::retries)];
    stats.retries_exhausted = totals[static_cast<std::size_t>(Counter::retries_exhausted)];
    stats.turns = totals[static_cast<std::size_t>(Counter::turns)];
    stats.expirations = totals[static_cast<std::size_t>(Counter::expirations)];
    stats.evictions = totals[static_cast<std::size_t>(Counter::evictions)];
    return stats;
  }

 private:
  static constexpr std::size_t kOwnedCells = 64;
  static constexpr std::size_t kSharedCells = 16;
  struct alignas(64) Cell {
    std::atomic<std::uint64_t> values[static_cast<std::size_t>(Counter::count_)] = {};
  };
  std::unique_ptr<Cell[]> cells_;
};

}  // namespace vkv::detail
