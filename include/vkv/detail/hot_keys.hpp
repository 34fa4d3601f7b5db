// Internal (users never include this directly): the conflict hot-spot sketch behind
// Store::hot_keys().
//
// A Space-Saving sketch (Metwally, Agrawal, El Abbadi, 2005), striped: a key's hash
// picks one of kStripes stripes, each a Space-Saving summary of kSlotsPerStripe
// counters under its own mutex. Space-Saving keeps a counter per monitored key; a new
// key takes over the smallest counter and inherits its count (+1), remembering that
// inheritance as the counter's error. Since a key always lands in the same stripe, the
// stripes partition the keys and each is an exact Space-Saving summary of its own
// stream.
//
// Error bound: for a stripe that has seen N conflicts, a listed key's count exceeds
// its true count by at most its recorded error, which is at most N / kSlotsPerStripe;
// a key with more than N / kSlotsPerStripe conflicts is always listed. hot_keys()
// reports count (an upper bound) and the key's true count is >= count - error.
//
// Thread safety
//   record() and top() may be called from any threads at once. The sketch is touched
//   only on the conflict path (record) and by hot_keys() (top).
//
// Invariants:
//   1. Each stripe's mutex guards its slots; it is held only for a scan of
//      kSlotsPerStripe slots (no allocation under it beyond a std::string assignment,
//      no user code), so a conflict-path caller waits at most for that.
//   2. Within a stripe, one slot per key (compared by hash, then text).
//   3. record() never throws: a failed allocation drops that one observation (the
//      sketch is a statistic; the failed write it describes has already failed).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vkv/stats.hpp"

namespace vkv::detail {

class HotKeySketch {
 public:
  static constexpr std::size_t kStripes = 16;
  static constexpr std::size_t kSlotsPerStripe = 16;

  // Counts one conflict on the key whose hash is `hash` and text is `text` (rendered
  // by the caller, outside the lock; moved in, so nothing allocates under it).
  void record(std::uint64_t hash, std::string text) noexcept {
    Stripe& stripe = stripes_[(hash >> 7) % kStripes];
    std::lock_guard<std::mutex> lock(stripe.mutex);
    Slot* smallest = &stripe.slots[0];
    for (Slot& slot : stripe.slots) {
      if (slot.count != 0 && slot.hash == hash && slot.text == text) {
        ++slot.count;
        return;
      }
      if (slot.count < smallest->count) smallest = &slot;
    }
    // Take over the smallest counter (a free one has count 0): Space-Saving.
    smallest->error = smallest->count;
    smallest->count += 1;
    smallest->hash = hash;
    smallest->text = std::move(text);  // a move: no allocation under the lock
  }

  // Up to n keys with the highest counts, highest first.
  std::vector<HotKey> top(std::size_t n) const {
    std::vector<HotKey> all;
    all.reserve(kStripes * kSlotsPerStripe);
    for (const Stripe& stripe : stripes_) {
      std::lock_guard<std::mutex> lock(stripe.mutex);
      for (const Slot& slot : stripe.slots) {
        if (slot.count != 0) all.push_back(HotKey{slot.text, slot.count});
      }
    }
    std::sort(all.begin(), all.end(), [](const HotKey& a, const HotKey& b) {
      return a.conflicts != b.conflicts ? a.conflicts > b.conflicts : a.entity_id < b.entity_id;
    });
    if (all.size() > n) all.resize(n);
    return all;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t count = 0;  // 0 = free
    std::uint64_t error = 0;  // over-count inherited when the key took the slot
    std::string text;
  };
  struct alignas(64) Stripe {
    mutable std::mutex mutex;
    std::array<Slot, kSlotsPerStripe> slots{};
  };
  std::array<Stripe, kStripes> stripes_{};
};

}  // namespace vkv::detail
