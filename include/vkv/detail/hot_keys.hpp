// Internal (users never include this directly): the conflict hot-spot sketch behind
// Store::hot_keys().
//
// A Space-Saving sketch (Metwally, Agrawal, El Abbadi, 2005), striped: a key's hash
// picks one of kStripes stripes, each a Space-Saving summary of kSlotsPerStripe
// counters under its own mutex. Space-Saving keeps a counter per monitored key; a new
// key takes over the smallest counter and inherits its count (+1), remembering that
// inheritance as the counter's error. Since a key always lands in the same stripe, the
// stripes partition the keys and each is an exact Space-Saving summary of the
// observations it recorded.
//
// Lock-free for the conflict path: record() only ever try-locks a stripe. If another
// thread holds it (updating it, or preempted while it does), the observation is
// dropped: the sketch is a statistic, and a failed write must not wait for another
// thread to make progress. The key's text is rendered only when the key takes over a
// counter (a key not monitored yet), outside the lock; a monitored key's conflict
// renders nothing and allocates nothing.
//
// Error bound: for a stripe that has recorded N conflicts, a listed key's count exceeds
// the conflicts recorded for it by at most its error, which is at most
// N / kSlotsPerStripe; a key with more than N / kSlotsPerStripe recorded conflicts is
// always listed. Dropped observations are not recorded: under contention a count may
// also under-state the key's true conflicts (by the dropped ones).
//
// Thread safety
//   record() and top() may be called from any threads at once. The sketch is touched
//   only on the conflict path (record) and by hot_keys() (top).
//
// Invariants:
//   1. Each stripe's mutex guards its slots. record() never blocks on it (try_lock, or
//      drop); it holds it for one scan of kSlotsPerStripe slots, plus a std::string
//      move on a takeover, no allocation, no user code. top() locks each stripe in turn
//      (it may wait for one such scan, or for a holder that is preempted).
//   2. Within a stripe, one slot per key, compared by the key's 64-bit mixed hash (two
//      keys with one mixed hash would share a counter).
//   3. record() never throws: a failed rendering or allocation drops that one
//      observation (the failed write it describes has already failed).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vkv/stats.hpp"

namespace vkv::detail {

// Tests only: when set, record() calls it while it holds a stripe, as a holder that is
// preempted there would (tests/cache/hot_keys_test.cpp parks a thread in it).
// relaxed: set before the threads it affects start.
inline constinit std::atomic<void (*)()> hot_key_stripe_hook{nullptr};

class HotKeySketch {
 public:
  static constexpr std::size_t kStripes = 16;
  static constexpr std::size_t kSlotsPerStripe = 16;

  // Counts one conflict on the key whose mixed hash is `hash`; render() (returning the
  // key's text as std::string; may throw) runs only if the key takes over a counter,
  // outside the lock. Never waits: a busy stripe drops the observation.
  template <class Render>
  void record(std::uint64_t hash, Render&& render) noexcept {
    Stripe& stripe = stripes_[(hash >> 7) % kStripes];
    {
      std::unique_lock<std::mutex> lock(stripe.mutex, std::try_to_lock);
      if (!lock.owns_lock()) return;  // busy: dropped (invariant 1)
      if (auto* hook = hot_key_stripe_hook.load(std::memory_order_relaxed)) hook();
      if (Slot* slot = find(stripe, hash)) {
        ++slot->count;
        return;
      }
    }
    std::string text;
    try {
      text = render();  // outside the lock: may allocate or run operator<<
    } catch (...) {
      return;  // invariant 3
    }
    std::unique_lock<std::mutex> lock(stripe.mutex, std::try_to_lock);
    if (!lock.owns_lock()) return;          // busy: dropped
    if (Slot* slot = find(stripe, hash)) {  // another thread put it in meanwhile
      ++slot->count;
      return;  // `text` is freed after the lock is released
    }
    // Take over the smallest counter (a free one has count 0): Space-Saving.
    Slot* smallest = &stripe.slots[0];
    for (Slot& slot : stripe.slots) {
      if (slot.count < smallest->count) smallest = &slot;
    }
    smallest->error = smallest->count;
    smallest->count += 1;
    smallest->hash = hash;
    smallest->text.swap(text);  // no allocation under the lock; the old text goes later
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
  // The slot monitoring `hash`, or nullptr. Under the stripe's mutex.
  static Slot* find(Stripe& stripe, std::uint64_t hash) noexcept {
    for (Slot& slot : stripe.slots) {
      if (slot.count != 0 && slot.hash == hash) return &slot;
    }
    return nullptr;
  }
  std::array<Stripe, kStripes> stripes_{};
};

}  // namespace vkv::detail
