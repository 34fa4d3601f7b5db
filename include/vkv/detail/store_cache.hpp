// Internal (users never include this directly; vkv/store.hpp includes it): the cache
// layer of Store: expiry, the capacity bound (sampled approximate-LRU eviction), put,
// find_or_create and the conflict hot-spot sketch. docs/design.md, "Cache layer".
//
// Expiry is a property of a node: Node::expires (steady_clock nanoseconds, 0 = never)
// is written before the node is published and never changed. A node whose stamp has
// passed is absent to every operation that looks at it after that (the clock is read
// only for nodes that have a stamp), but "absent because expired" is never decided by
// the clock alone: the operation first removes the node, an erase decided by the
// compare-and-swap at the node that was judged (remove_node / remove_expired), so it
// and a racing write cannot both win: the loser sees the winner's word (a write then
// reports not found; a removal reads again and decides on what it finds). A record
// lives until it is removed, and no later. Who removes: find, visit, find_many,
// for_each (the reads write here), the write loop (its first look and a lost CAS's
// winner), patch's early read, both update_with_retry loops, a commit's step 0 and
// failure naming, create and put (by replacing the node), and active expiry and
// eviction. Reads and commits end their Guard first (remove_expired notifies on_evict).
//
// Invariants:
//   1. records_ (bounded stores) counts slots holding a node: +1 by the insert or
//      revival that filled one, -1 by the erase CAS that emptied one (erase, commit
//      erase, remove_node); a replacement leaves it unchanged.
//   2. on_evict runs on the removing thread after its Guard ended, never under a lock.
//   3. Every removal reserves its retirements (epoch::reserve) and renders the event's
//      key text before its CAS; after the CAS nothing allocates or throws.
//   4. The bound never evicts the record its triggering write (a create, or a put that
//      created) just wrote: the newest record is the most recently used one
//      (API.md, Capacity). evict_one() skips that key's slot in its sample.
#pragma once

#include <chrono>
#include <limits>
#include <optional>

#include "vkv/detail/expiry_clock.hpp"
#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
std::int64_t Store<T, Key, Hash, KeyEqual>::now_ticks() noexcept {
  return detail::precise_now();
}

template <class T, class Key, class Hash, class KeyEqual>
bool Store<T, Key, Hash, KeyEqual>::expired(const node_type& node) noexcept {
  return detail::stamp_passed(node.expires);  // detail/expiry_clock.hpp
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::expires_at_of(std::int64_t expires) noexcept
    -> std::optional<std::chrono::steady_clock::time_point> {
  if (expires == 0) return std::nullopt;
  return std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(expires)));
}

template <class T, class Key, class Hash, class KeyEqual>
std::int64_t Store<T, Key, Hash, KeyEqual>::expiry_of(
    std::optional<std::chrono::nanoseconds> ttl) const noexcept {
  const std::int64_t span = ttl ? ttl->count() : options_.default_ttl.count();
  if (span <= 0) return 0;  // zero (or negative) = never expires
  // relaxed: a hint that turns active expiry on; a write that misses it merely skips
  // one round of that bounded work.
  if (!ttl_seen_.load(std::memory_order_relaxed)) ttl_seen_.store(true, std::memory_order_relaxed);
  // A TTL of kCoarseMargin (1 s) or more counts from the coarse clock
  // (detail/expiry_clock.hpp: ~4 ns instead of ~30 for steady_clock on a VM), which
  // lags steady_clock by up to a tick: such a record lives at most ttl and at least ttl
  // minus a tick (4 ms here, 0.4 % of 1 s). Shorter TTLs count from steady_clock.
  // expires_at reports the exact stamp either way.
  const std::int64_t now =
      span >= detail::kCoarseMargin ? detail::coarse_now() : detail::precise_now();
  const std::int64_t at = span > std::numeric_limits<std::int64_t>::max() - now
                              ? std::numeric_limits<std::int64_t>::max()
                              : now + span;
  return at == 0 ? 1 : at;
}

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::touch(const node_type& node) const noexcept {
  if (options_.max_records == 0) return;
  // relaxed, both: an eviction hint, never used to decide a write. Test, then store:
  // the node's line is written once per clock tick, not once per read.
  const std::uint32_t now = lru_clock_.load(std::memory_order_relaxed);
  if (node.used.load(std::memory_order_relaxed) != now) {
    node.used.store(now, std::memory_order_relaxed);
  }
}

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::stamp_new(node_type& node) const noexcept {
  // relaxed: the node is not published yet (the installing CAS releases it).
  if (options_.max_records != 0) {
    node.used.store(lru_clock_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
}

template <class T, class Key, class Hash, class KeyEqual>
bool Store<T, Key, Hash, KeyEqual>::remove_node(const Key& id, const HashedKey& key,
                                                const slot_type& slot, node_type* node,
                                                Reason reason,
                                                std::optional<EvictionEvent>& event) const {
  // Everything that can throw first (invariant 3).
  std::optional<EvictionEvent> prepared;
  if (options_.on_evict) {
    prepared.emplace(EvictionEvent{reason, options_.entity_type, detail::key_text(id), Version()});
  }
  detail::epoch::reserve(2);  // the node, and the index entry remove_if_erased drops
  std::uintptr_t observed;
  if (!slot.install(node, nullptr, observed)) return false;  // <- decided here: lost
  const bool was_live = !node->deleted;
  if (prepared) {
    prepared->version = node->version;
    event = std::move(prepared);
  }
  detail::retire_pooled(node);
  // relaxed: statistics and the bound's count (invariant 1).
  if (was_live) index_.shard_for(key).live.fetch_sub(1, std::memory_order_relaxed);
  if (options_.max_records != 0) records_.fetch_sub(1, std::memory_order_relaxed);
  index_.remove_if_erased(key, &slot);
  if (reason == Reason::expired) {
    counters_.add(detail::Counter::expirations);
  } else {
    counters_.add(detail::Counter::evictions);
    // The LRU clock ticks every lru_tick_ evictions of this thread. relaxed: a hint.
    thread_local std::uint32_t evicted = 0;
    if (++evicted % lru_tick_ == 0) lru_clock_.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::remove_expired(const Key& id, const HashedKey& key) const {
  for (;;) {
    std::optional<EvictionEvent> event;
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      if (slot == nullptr) return;
      node_type* node = slot->load_for_write();
      if (node == nullptr || node->expires == 0 || !expired(*node)) return;
      // Lost: another write replaced the node; look again.
      if (!remove_node(id, key, *slot, node, Reason::expired, event)) continue;
    }
    notify_evict(event);
    return;
  }
}

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::expire_some(std::optional<EvictionEvent>& event) const {
  // relaxed: a hint (expiry_of); stores that never saw a TTL skip the work. One write
  // in kExpiryEvery probes (kExpiryProbes cells): about one probe per write, amortised.
  if (event || !ttl_seen_.load(std::memory_order_relaxed)) return;
  if (detail::sample_random() % kExpiryEvery != 0) return;
  const typename index_type::value_type* victim = nullptr;
  node_type* victim_node = nullptr;
  const std::int64_t now = detail::passed_bound();  // stamps at or below it have passed
  detail::sample_cells(index_, kExpiryProbes, [&](const typename index_type::value_type& entry) {
    // acquire: pairs with the installing CAS's release (the node's fields).
    const std::uintptr_t word = entry.second.word.load(std::memory_order_acquire);
    if (word == 0 || detail::is_entry_word(word)) return true;
    node_type* node = detail::word_node<T>(word);
    if (node->expires == 0 || node->expires > now) return true;
    victim = &entry;
    victim_node = node;
    return false;
  });
  if (victim == nullptr) return;
  try {
    (void)remove_node(victim->first, index_.hashed(victim->first), victim->second, victim_node,
                      Reason::expired, event);
  } catch (...) {
    // Background work on behalf of a write that has already succeeded: skipped
    // (std::bad_alloc, or a key whose rendering for on_evict threw).
  }
}

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::evict_to_bound(const HashedKey& written) {
  if (options_.max_records == 0) return;
  const auto bound = static_cast<std::int64_t>(options_.max_records);
  // relaxed: the count is exact once writers are quiet; while they race, each creator
  // evicts until it sees the store at the bound (the slack: docs/design.md).
  while (records_.load(std::memory_order_relaxed) > bound) {
    std::optional<EvictionEvent> event;
    try {
      detail::epoch::Guard guard;
      (void)evict_one(written, event);
    } catch (...) {
      // std::bad_alloc, or a key whose rendering for on_evict threw: the create has
      // succeeded and must report it; the next create evicts (the bound's slack).
      return;
    }
    notify_evict(event);
  }
}

template <class T, class Key, class Hash, class KeyEqual>
bool Store<T, Key, Hash, KeyEqual>::evict_one(const HashedKey& written,
                                              std::optional<EvictionEvent>& event) {
  // Of up to kEvictionSample records met in kEvictionProbes cells, remove the best
  // victim: expired first, then soft-deleted, then the least recently used (oldest
  // use stamp on the LRU clock). Never the record of `written` (invariant 4): its use
  // stamp ties with older records' until the LRU clock ticks, so the sample could pick
  // it. A sample that meets no other record removes nothing; evict_to_bound samples
  // again (other cells, at random).
  const slot_type* spared = index_.find(written);  // compared, never followed
  const typename index_type::value_type* victim = nullptr;
  node_type* victim_node = nullptr;
  int victim_rank = 3;
  std::uint32_t victim_age = 0;
  std::size_t seen = 0;
  // Stamps at or below it have passed (relaxed: a hint, as in expire_some).
  const std::int64_t now = ttl_seen_.load(std::memory_order_relaxed) ? detail::passed_bound() : 0;
  // relaxed: a hint, as in touch().
  const std::uint32_t clock = lru_clock_.load(std::memory_order_relaxed);
  detail::sample_cells(index_, kEvictionProbes, [&](const typename index_type::value_type& entry) {
    // acquire: pairs with the installing CAS's release (the node's fields).
    const std::uintptr_t word = entry.second.word.load(std::memory_order_acquire);
    if (word == 0 || detail::is_entry_word(word)) return true;  // erased, or in a commit
    if (&entry.second == spared) return true;
    node_type* node = detail::word_node<T>(word);
    const int rank = node->expires != 0 && node->expires <= now ? 0 : node->deleted ? 1 : 2;
    const std::uint32_t age = clock - node->used.load(std::memory_order_relaxed);
    if (rank < victim_rank || (rank == victim_rank && age > victim_age)) {
      victim = &entry;
      victim_node = node;
      victim_rank = rank;
      victim_age = age;
    }
    return ++seen < kEvictionSample;
  });
  if (victim == nullptr) return false;
  return remove_node(victim->first, index_.hashed(victim->first), victim->second, victim_node,
                     victim_rank == 0 ? Reason::expired : Reason::evicted, event);
}

template <class T, class Key, class Hash, class KeyEqual>
void Store<T, Key, Hash, KeyEqual>::note_conflict(const Key& id) const noexcept {
  std::uint64_t hash = 0;
  try {
    hash = static_cast<std::uint64_t>(index_.hashed(id).mixed);
  } catch (...) {
    return;  // a throwing Hash: the observation is dropped (a statistic)
  }
  // Never waits (a busy stripe drops the observation); the key's text is rendered only
  // when the key enters the sketch (detail/hot_keys.hpp).
  hot_->record(hash, [&] { return detail::key_text(id); });
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::put(Key id, T value, WriteOptions options) -> record_type {
  detail::epoch::throttle();  // the garbage bound: may wait, outside any Guard
  node_ptr fresh = make_node(std::move(value), false);
  fresh->version = detail::next_version();
  fresh->expires = expiry_of(options.ttl);
  stamp_new(*fresh);
  std::optional<record_type> out;
  out.emplace(record_type{std::move(id), fresh->value, fresh->version, 1, false,
                          expires_at_of(fresh->expires)});
  const HashedKey key = index_.hashed(out->id);
  std::optional<EvictionEvent> removed;  // an expired record this put replaced
  bool inserted = false;
  bool as_create = false;  // absent or expired before: a create (revision 1)
  {
    detail::epoch::Guard guard;
    for (;;) {
      // Retirement room for the replaced node or a map node (may throw: nothing changed).
      detail::epoch::reserve(2);
      const slot_type* slot = index_.find(key);
      node_type* current = slot != nullptr ? slot->load_for_write() : nullptr;
      if (current == nullptr) {
        fresh->revision = 1;
        node_type* existing = nullptr;
        if (index_.insert_or_revive(key, fresh.get(), existing) !=
            index_type::InsertOutcome::exists) {
          inserted = as_create = true;
          break;
        }
        continue;  // created meanwhile: replace that one
      }
      const bool was_expired = current->expires != 0 && expired(*current);
      std::optional<EvictionEvent> prepared;
      if (was_expired && options_.on_evict) {
        prepared.emplace(
            EvictionEvent{Reason::expired, options_.entity_type, detail::key_text(out->id), {}});
      }
      fresh->revision = was_expired ? 1 : current->revision + 1;
      std::uintptr_t observed;
      if (slot->install(current, fresh.get(), observed)) {  // <- decided here
        const int was_live = current->deleted ? 0 : 1;
        if (was_expired) {
          as_create = true;
          counters_.add(detail::Counter::expirations);
          if (prepared) {
            prepared->version = current->version;
            removed = std::move(prepared);
          }
        }
        detail::retire_pooled(current);
        // relaxed: a statistic, exact once writers are quiet.
        if (was_live == 0) index_.shard_for(key).live.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      // Lost to another writer: go again from what is there now.
    }
    out->revision = fresh->revision;
    fresh.release();
    if (inserted) {
      // relaxed: statistics and the bound's count, exact once writers are quiet.
      index_.shard_for(key).live.fetch_add(1, std::memory_order_relaxed);
      if (options_.max_records != 0) records_.fetch_add(1, std::memory_order_relaxed);
    }
    counters_.add(as_create ? detail::Counter::creates : detail::Counter::writes);
    expire_some(removed);
  }
  notify_evict(removed);
  if (inserted) evict_to_bound(key);
  return std::move(*out);
}

template <class T, class Key, class Hash, class KeyEqual>
template <class Make>
auto Store<T, Key, Hash, KeyEqual>::find_or_create(Key id, Make&& make) -> record_type {
  if (std::optional<record_type> found = find(id, ReadOptions{true})) {
    if (found->deleted) throw_error(duplicate_info(id));
    return std::move(*found);
  }
  T value = std::invoke(std::forward<Make>(make));  // outside any lock or Guard; may throw
  std::optional<record_type> out;
  std::optional<record_type> existing;
  if (create_impl(std::move(id), std::move(value), expiry_of(std::nullopt), out, &existing)) {
    return std::move(*out);
  }
  // Lost the race: the record that was created (or that exists) is the answer.
  if (existing->deleted) throw_error(duplicate_info(out->id));
  return std::move(*existing);
}

}  // namespace vkv
