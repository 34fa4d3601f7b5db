// Internal (users never include this directly): StoreCore, the state of a store and
// the bookkeeping every operation shares; StoreEngine (detail/store_engine.hpp) builds
// the operations on it. Here: the one install-and-account step that decides every
// write (install(), settle()), the removals of expiry and eviction (detail/expiry.hpp,
// detail/eviction.hpp), failure counting and the whole-store views.
//
// Thread safety: every member may be called concurrently. Reads hold an epoch::Guard
// while they use a node; writes hold one from their lookup to their CAS.
//
// Invariants:
//   1. A write reserves its retirements (epoch::reserve) before its CAS; after the CAS
//      nothing allocates or throws (settle() only retires into reserved room and
//      counts).
//   2. The features word is a superset of what the store uses: a feature's bit is set
//      before the first node that needs it is built, and never cleared. A write loads
//      it once; a store with no TTL and no bound skips the cache layer's work (and a
//      store with no on_evict listener renders no event).
//   3. on_evict runs on the removing thread after its Guard ended, never under a lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "vkv/detail/contention.hpp"
#include "vkv/detail/counters.hpp"
#include "vkv/detail/epoch.hpp"
#include "vkv/detail/eviction.hpp"
#include "vkv/detail/expiry.hpp"
#include "vkv/detail/hot_keys.hpp"
#include "vkv/detail/key_text.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/detail/node_pool.hpp"
#include "vkv/detail/record_slot.hpp"
#include "vkv/detail/sharded_index.hpp"
#include "vkv/detail/verdict.hpp"
#include "vkv/options.hpp"
#include "vkv/record.hpp"
#include "vkv/stats.hpp"
#include "vkv/transaction.hpp"

namespace vkv::detail {

template <class T, class Key, class Hash, class KeyEqual>
class StoreCore {
 public:
  using key_type = Key;
  using value_type = T;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using record_type = Record<T, Key>;
  using transaction_type = Transaction<T, Key>;
  using node_type = Node<T>;
  using node_ptr = NodePtr<T>;
  using slot_type = RecordSlot<T>;
  using index_type = ShardedIndex<Key, slot_type, Hash, KeyEqual>;
  using HashedKey = typename index_type::HashedKey;
  using Outcome = WriteOutcome<record_type>;
  using Reason = EvictionEvent::Reason;

  // The features word (invariant 2).
  static constexpr std::uint32_t kTtl = 1;      // a node with an expiry stamp was built
  static constexpr std::uint32_t kBounded = 2;  // StoreOptions::max_records

  explicit StoreCore(StoreOptions options)
      : options_(std::move(options)),
        index_(options_.shards),
        bound_(options_.max_records),
        features_((options_.default_ttl.count() > 0 ? kTtl : 0) |
                  (options_.max_records != 0 ? kBounded : 0)) {
    if (options_.contention_adaptive) {
      contention_ = std::make_unique<ContentionTable>(options_.contention_threshold,
                                                      options_.contention_max_wait);
    }
  }
  StoreCore(const StoreCore&) = delete;
  StoreCore& operator=(const StoreCore&) = delete;

  ~StoreCore() {
    // No other thread may use the store now, so the live nodes go at once; nodes
    // replaced earlier are freed by the epoch scheme as usual.
    for (std::size_t i = 0; i < index_.shard_count(); ++i) {
      index_.visit_shard(i, [](const Key&, const slot_type& slot) {
        if (node_type* node = slot.load()) destroy_pooled(node);
      });
    }
  }

  // ---- Install and account: every write's decision and its books ----------------------

  // THE step that decides a write: the compare-and-swap at `slot` from `current` to
  // `desired` (nullptr: erase), then, if it won, settle(). The caller reserved
  // retirement room (epoch::reserve(2)) before it. `observed` receives the winner's
  // word on failure.
  [[gnu::always_inline]] bool install(const HashedKey& key, const slot_type& slot,
                                      node_type* current, node_type* desired,
                                      std::uintptr_t& observed) const {
    if (!slot.install(current, desired, observed)) return false;
    settle(key, &slot, current, desired);
    return true;
  }

  // The books of a decided write of key: `old` (nullptr: the slot was empty, an insert)
  // was replaced by `now` (nullptr: erased). Retires old, keeps the shard's live count,
  // the bound's count (detail/eviction.hpp, invariant 1) and the index entry. Allocates
  // nothing (invariant 1); shared by every write, the commit's owner included.
  [[gnu::always_inline]] void settle(const HashedKey& key, const slot_type* slot, node_type* old,
                                     const node_type* now) const {
    const int delta =
        (now != nullptr && !now->deleted ? 1 : 0) - (old != nullptr && !old->deleted ? 1 : 0);
    // relaxed: a statistic, exact once writers are quiet.
    if (delta != 0) index_.shard_for(key).live.fetch_add(delta, std::memory_order_relaxed);
    if (old == nullptr) {
      bound_.added();
      return;
    }
    retire_pooled(old);
    if (now == nullptr) {
      bound_.removed();
      index_.remove_if_erased(key, slot);
    }
  }

  // ---- Expiry and eviction (detail/expiry.hpp, detail/eviction.hpp) -----------------

  // The expiry stamp of a write made now with `ttl` (unset: the default).
  std::int64_t expiry_of(std::optional<std::chrono::nanoseconds> ttl) const noexcept {
    const std::int64_t stamp = expiry_stamp(ttl ? ttl->count() : options_.default_ttl.count());
    // relaxed: turns active expiry on before the node is published (invariant 2).
    if (stamp != 0 && !(features_.load(std::memory_order_relaxed) & kTtl)) {
      features_.fetch_or(kTtl, std::memory_order_relaxed);
    }
    return stamp;
  }

  // The event a removal reports, rendered before its CAS (only with a listener).
  std::optional<EvictionEvent> eviction_event(const Key& id, Reason reason) const {
    std::optional<EvictionEvent> event;
    if (options_.on_evict)
      event.emplace(EvictionEvent{reason, options_.entity_type, key_text(id), {}});
    return event;
  }

  // Removes `node` from `slot` by an erase compare-and-swap at it (expiry or eviction).
  // True if it won. Under the caller's Guard; fills `event` for notify_evict().
  bool remove_node(const Key& id, const HashedKey& key, const slot_type& slot, node_type* node,
                   Reason reason, std::optional<EvictionEvent>& event) const {
    std::optional<EvictionEvent> prepared = eviction_event(id, reason);  // may throw
    epoch::reserve(2);  // the node, and the index entry remove_if_erased drops
    const Version version = node->version;
    std::uintptr_t observed;
    if (!install(key, slot, node, nullptr, observed)) return false;  // <- decided here
    if (prepared) {
      prepared->version = version;
      event = std::move(prepared);
    }
    if (reason == Reason::expired) {
      counters_.add(Counter::expirations);
    } else {
      counters_.add(Counter::evictions);
      bound_.note_eviction();
    }
    return true;
  }

  // Removes the expired record of key, if it still is there; outside any Guard (it
  // notifies on_evict). Every "absent because expired" verdict comes from this removal
  // (or remove_node's), never from the clock alone.
  void remove_expired(const Key& id, const HashedKey& key) const {
    for (;;) {
      std::optional<EvictionEvent> event;
      {
        epoch::Guard guard;
        const slot_type* slot = index_.find(key);
        if (slot == nullptr) return;
        node_type* node = slot->load_for_write();
        if (node == nullptr || !expired(*node)) return;
        // Lost: another write replaced the node; look again.
        if (!remove_node(id, key, *slot, node, Reason::expired, event)) continue;
      }
      notify_evict(event);
      return;
    }
  }

  // Active expiry (detail/expiry.hpp); under the caller's Guard; does nothing if
  // `event` is set already or the store never saw a TTL.
  void expire_some(std::optional<EvictionEvent>& event) const {
    // relaxed: a hint (invariant 2).
    if (event || !(features_.load(std::memory_order_relaxed) & kTtl)) return;
    const auto victim = sample_expired<T>(index_);
    if (victim.entry == nullptr) return;
    try {
      (void)remove_node(victim.entry->first, index_.hashed(victim.entry->first),
                        victim.entry->second, victim.node, Reason::expired, event);
    } catch (...) {
      // Background work on behalf of a write that has already succeeded: skipped
      // (std::bad_alloc, or a key whose rendering for on_evict threw).
    }
  }

  // Evicts until the store holds at most max_records records, never the record of
  // `written` (detail/eviction.hpp, invariant 2). Outside any Guard.
  void evict_to_bound(const HashedKey& written) {
    while (bound_.over()) {
      std::optional<EvictionEvent> event;
      try {
        epoch::Guard guard;
        // relaxed: a hint (invariant 2).
        const bool ttl = (features_.load(std::memory_order_relaxed) & kTtl) != 0;
        const auto victim = bound_.pick_victim<T>(index_, index_.find(written), ttl);
        if (victim.entry != nullptr) {
          (void)remove_node(victim.entry->first, index_.hashed(victim.entry->first),
                            victim.entry->second, victim.node,
                            victim.expired ? Reason::expired : Reason::evicted, event);
        }
      } catch (...) {
        // std::bad_alloc, or a key whose rendering for on_evict threw: the create has
        // succeeded and must report it; the next create evicts (the bound's slack).
        return;
      }
      notify_evict(event);
    }
  }

  // A create's or put's cache work after its Guard ended: on_evict for the expired record
  // it replaced, and the bound if it inserted one.
  void after_insert(std::uint32_t features, const std::optional<EvictionEvent>& removed,
                    bool inserted, const HashedKey& key) {
    if (removed) [[unlikely]]
      notify_evict(removed);
    if (inserted && (features & kBounded)) [[unlikely]]
      evict_to_bound(key);
  }

  // Runs on_evict outside any Guard or lock (invariant 3).
  void notify_evict(const std::optional<EvictionEvent>& event) const {
    if (event && options_.on_evict) options_.on_evict(*event);
  }

  // ---- Failures, counters, views ------------------------------------------------------

  void count_failure(const Key& id, Verdict verdict) const {
    if (verdict == Verdict::conflict) {
      counters_.add(Counter::conflicts);
      note_conflict(id);
    } else if (verdict != Verdict::ok) {
      counters_.add(Counter::not_found);
    }
  }

  void note_conflict(const Key& id) const noexcept {
    std::uint64_t hash = 0;
    try {
      hash = static_cast<std::uint64_t>(index_.hashed(id).mixed);
    } catch (...) {
      return;  // a throwing Hash: the observation is dropped (a statistic)
    }
    // Never waits (a busy stripe drops the observation); the key's text is rendered
    // only when the key enters the sketch (detail/hot_keys.hpp).
    hot_->record(hash, [&] { return key_text(id); });
  }

  std::vector<HotKey> hot_keys(std::size_t n) const { return hot_->top(n); }

  std::size_t size() const {
    std::int64_t total = 0;
    for (std::size_t i = 0; i < index_.shard_count(); ++i) {
      total += index_.shard(i).live.load(std::memory_order_relaxed);  // relaxed: a statistic
    }
    return total < 0 ? 0 : static_cast<std::size_t>(total);
  }

  StoreStats stats() const { return counters_.sum(); }
  const StoreOptions& options() const noexcept { return options_; }
  const index_type& index() const noexcept { return index_; }
  void touch(const node_type& node) const noexcept { bound_.touch(node); }
  void stamp(node_type& node) const noexcept { bound_.stamp(node); }
  StoreCounters& counters() const noexcept { return counters_; }

 protected:
  StoreOptions options_;
  // mutable: reads remove the expired records they meet (an erase by compare-and-swap).
  mutable index_type index_;
  mutable StoreCounters counters_;
  LruBound bound_;
  // Invariant 2. relaxed throughout: kTtl is set before the node that needs it is
  // published, by the thread that builds it; another thread that misses it merely
  // skips one round of active expiry (bounded, amortised work).
  mutable std::atomic<std::uint32_t> features_;
  std::unique_ptr<HotKeySketch> hot_ = std::make_unique<HotKeySketch>();
  // Contention-adaptive mode's turns and heat; null when the mode is off.
  std::unique_ptr<ContentionTable> contention_;
};

}  // namespace vkv::detail
