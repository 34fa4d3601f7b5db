// vkv::StoreStats: a store's counters.
#pragma once

#include <cstdint>
#include <string>

namespace vkv {

// Counters since the store was constructed, summed from per-thread cells when read
// (so reading them is O(cells) and, under concurrent writes, not a snapshot).
struct StoreStats {
  std::uint64_t reads = 0;      // keys looked up by find / find_many (not internal reads)
  std::uint64_t creates = 0;    // successful creates
  std::uint64_t writes = 0;     // successful version-checked writes of every kind; a commit
                                // counts each record it writes (not its checks)
  std::uint64_t conflicts = 0;  // failed version checks
  std::uint64_t not_found = 0;  // writes refused as not found (find misses are not counted)
  std::uint64_t retries = 0;    // retries made by this store's update_with_retry
  std::uint64_t retries_exhausted = 0;
  std::uint64_t expirations = 0;  // records removed because they expired
  std::uint64_t evictions = 0;    // records removed by the capacity bound
  // Attempts of update_with_retry made holding a key's turn (contention-adaptive mode
  // only; see StoreOptions::contention_adaptive). Always 0 with the mode off.
  std::uint64_t turns = 0;

  // conflicts / (writes + conflicts); 0 when both are 0.
  double conflict_rate() const {
    const std::uint64_t attempts = writes + conflicts;
    return attempts == 0 ? 0.0 : static_cast<double>(conflicts) / static_cast<double>(attempts);
  }
};

// One entry of Store::hot_keys(): a key and its recent conflicts.
struct HotKey {
  std::string entity_id;      // the key, rendered as text
  std::uint64_t conflicts{};  // may over-count by at most the sketch's documented error
                              // (detail/hot_keys.hpp); never under-counts a listed key
};

}  // namespace vkv
