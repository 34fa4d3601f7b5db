// Keys longer than std::string's small-buffer (15 characters) own heap memory: the
// index must keep an erased entry's key alive, like its slot, until no reader can see
// it. One thread erases and re-creates keys of 16 to 120 characters while readers use
// every path that reads an index entry's key: find's key compare, visit, find_many,
// for_each's copy of the entry's key; and, in a bounded store with expiry, the
// eviction sampler and active expiry. Every id a reader or on_evict sees must be one
// of the keys: a key read after it was freed shows up as a garbled id without ASan,
// and as a heap-use-after-free under it.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <new>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace vkv_test {
namespace {

using LongStore = vkv::Store<std::string>;

// Keys of the given lengths, each distinct in its first characters and filled with a
// letter of its own (a freed buffer reused for another key cannot pass for this one).
std::vector<std::string> long_keys(std::span<const std::size_t> lengths) {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    std::string key = "key-" + std::to_string(i) + "-";
    key.resize(lengths[i], static_cast<char>('a' + i % 26));
    keys.push_back(std::move(key));
  }
  return keys;
}

// Each reader makes at least this many passes, even if the writers finish first (a
// loaded machine may run them one after another): every reader reads something.
constexpr std::size_t kMinReads = 64;

struct Tally {
  std::int64_t reads = 0, bad = 0;
};

TEST(LongKeys, ReadersSeeOnlyLiveKeysUnderEraseAndRecreate) {
  const std::size_t lengths[] = {16, 30, 36, 36, 64, 100, 120, 45};
  const std::vector<std::string> keys = long_keys(lengths);
  const std::set<std::string> key_set(keys.begin(), keys.end());
  const std::int64_t cycles = scaled(1500, 3);
  LongStore store(vkv::StoreOptions{.shards = 2});
  for (const std::string& key : keys) store.create(key, key);

  constexpr int kReaders = 3;
  std::vector<Tally> tally(kReaders);
  std::atomic<bool> done{false};
  std::barrier start(kReaders + 1);
  std::int64_t erased = 0, created = 0;
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (std::int64_t c = 0; c < cycles; ++c) {
      for (const std::string& key : keys) {
        const auto current = store.find(key);
        if (current && store.try_erase(key, current->version)) ++erased;
        if (store.try_create(key, key)) ++created;
      }
    }
    // release: the readers' acquire load sees every write above before they stop.
    done.store(true, std::memory_order_release);
  });
  auto check = [&](Tally& me, const std::string& id, const std::string& value) {
    ++me.reads;
    if (key_set.count(id) == 0 || value != id) ++me.bad;
  };
  threads.emplace_back([&] {  // find (the key compare) and visit
    Tally& me = tally[0];
    start.arrive_and_wait();
    // acquire: pairs with the writer's release.
    for (std::size_t i = 0; i < kMinReads || !done.load(std::memory_order_acquire); ++i) {
      const std::string& key = keys[i % keys.size()];
      if (const auto r = store.find(key)) check(me, r->id, r->value);
      store.visit(
          key, [&](const vkv::RecordView<std::string>& view) { check(me, view.id, view.value); });
    }
  });
  threads.emplace_back([&] {  // find_many
    Tally& me = tally[1];
    start.arrive_and_wait();
    // acquire: pairs with the writer's release.
    for (std::size_t i = 0; i < kMinReads || !done.load(std::memory_order_acquire); ++i) {
      const auto found = store.find_many(std::span<const std::string>(keys));
      for (std::size_t k = 0; k < found.size(); ++k) {
        if (found[k]) check(me, found[k]->id, found[k]->value);
        if (found[k] && found[k]->id != keys[k]) ++me.bad;
      }
    }
  });
  threads.emplace_back([&] {  // for_each: copies each entry's key from the index
    Tally& me = tally[2];
    start.arrive_and_wait();
    // acquire: pairs with the writer's release.
    for (std::size_t i = 0; i < kMinReads || !done.load(std::memory_order_acquire); ++i) {
      store.for_each([&](const LongStore::record_type& r) { check(me, r.id, r.value); });
    }
  });
  for (std::thread& t : threads) t.join();

  for (int r = 0; r < kReaders; ++r) {
    EXPECT_EQ(tally[r].bad, 0) << "reader " << r << " saw an id that is not a key";
    EXPECT_GT(tally[r].reads, 0) << "reader " << r;
  }
  EXPECT_EQ(erased, created) << "every erase was followed by its re-create";
  // Quiet now: exactly the keys, each once, each with its own value.
  std::multiset<std::string> seen;
  store.for_each([&](const LongStore::record_type& r) {
    EXPECT_EQ(r.id, r.value);
    seen.insert(r.id);
  });
  EXPECT_EQ(seen, std::multiset<std::string>(keys.begin(), keys.end()));
  EXPECT_EQ(store.size(), keys.size());
}

TEST(LongKeys, EvictionAndExpiryChurnSeeOnlyLiveKeys) {
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < 48; ++i) lengths.push_back(i % 3 == 0 ? 16 : i % 3 == 1 ? 36 : 110);
  const std::vector<std::string> keys = long_keys(lengths);
  const std::set<std::string> key_set(keys.begin(), keys.end());
  const std::int64_t writes = scaled(12000, 8);
  std::atomic<std::int64_t> bad_events{0}, events{0};
  vkv::StoreOptions options;
  options.max_records = 12;
  options.shards = 2;
  options.on_evict = [&](const vkv::EvictionEvent& e) {
    // relaxed: counts read after join.
    events.fetch_add(1, std::memory_order_relaxed);
    if (key_set.count(e.entity_id) == 0) bad_events.fetch_add(1, std::memory_order_relaxed);
  };
  LongStore store(options);

  constexpr int kWriters = 2, kReaders = 2;
  std::vector<Tally> tally(kReaders);
  std::atomic<int> writers_left{kWriters};
  std::barrier start(kWriters + kReaders);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(4242 + w);
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < writes; ++i) {
        const std::string& key = keys[rng() % keys.size()];
        // A third of the writes expire almost at once (active expiry and the reads'
        // removal of expired records), the rest only by eviction.
        vkv::WriteOptions write;
        if (rng() % 3 == 0) write.ttl = std::chrono::microseconds(1 + rng() % 50);
        store.put(key, key, write);
      }
      // release: pairs with the readers' acquire.
      writers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  auto check = [&](Tally& me, const std::string& id, const std::string& value) {
    ++me.reads;
    if (key_set.count(id) == 0 || value != id) ++me.bad;
  };
  threads.emplace_back([&] {
    Tally& me = tally[0];
    start.arrive_and_wait();
    // acquire: pairs with the writers' release.
    for (std::size_t i = 0; i < kMinReads || writers_left.load(std::memory_order_acquire) > 0;
         ++i) {
      const std::string& key = keys[i % keys.size()];
      if (const auto r = store.find(key)) check(me, r->id, r->value);
      store.visit(
          key, [&](const vkv::RecordView<std::string>& view) { check(me, view.id, view.value); });
    }
  });
  threads.emplace_back([&] {
    Tally& me = tally[1];
    start.arrive_and_wait();
    // acquire: pairs with the writers' release.
    for (std::size_t i = 0; i < kMinReads || writers_left.load(std::memory_order_acquire) > 0;
         ++i) {
      store.for_each([&](const LongStore::record_type& r) { check(me, r.id, r.value); });
      for (const auto& r : store.find_many(std::span<const std::string>(keys))) {
        if (r) check(me, r->id, r->value);
      }
    }
  });
  for (std::thread& t : threads) t.join();

  for (int r = 0; r < kReaders; ++r) {
    EXPECT_EQ(tally[r].bad, 0) << "reader " << r << " saw an id that is not a key";
    EXPECT_GT(tally[r].reads, 0) << "reader " << r;
  }
  // relaxed: the writers were joined.
  EXPECT_EQ(bad_events.load(std::memory_order_relaxed), 0) << "on_evict named a non-key";
  EXPECT_GT(events.load(std::memory_order_relaxed), 0);
  std::size_t records = 0;
  store.for_each([&](const LongStore::record_type& r) {
    EXPECT_TRUE(key_set.count(r.id) == 1 && r.value == r.id);
    ++records;
  });
  EXPECT_LE(records, options.max_records);
}

// A key whose copy throws while `fail_copies` is set: the index's copy of the key into
// a new map node is the one copy a create makes, so the node's entry is never built
// (oneTBB's create_node frees the node without destroying it). The deferred-destruction
// allocator must then free only the memory: destroying the never-built entry would
// free a garbage pointer (ASan), skipping the free would leak (LeakSanitizer).
struct FragileKey {
  static inline bool fail_copies = false;  // set and read by the test's one thread
  std::string text;
  explicit FragileKey(std::string t) : text(std::move(t)) {}
  FragileKey(const FragileKey& other) : text(other.text) {
    if (fail_copies) throw std::bad_alloc();
  }
  FragileKey(FragileKey&&) noexcept = default;
  FragileKey& operator=(const FragileKey&) = default;
  FragileKey& operator=(FragileKey&&) noexcept = default;
  friend bool operator==(const FragileKey& a, const FragileKey& b) { return a.text == b.text; }
  operator std::string_view() const { return text; }  // NOLINT: rendered in errors
};
struct FragileHash {
  std::size_t operator()(const FragileKey& k) const { return std::hash<std::string>()(k.text); }
};

TEST(LongKeys, AKeyCopyThatThrowsLeavesNoEntryAndNoLeak) {
  vkv::Store<std::string, FragileKey, FragileHash> store;
  const FragileKey key(std::string(40, 'f'));
  FragileKey::fail_copies = true;
  EXPECT_THROW(store.create(FragileKey(std::string(40, 'f')), "v"), std::bad_alloc);
  FragileKey::fail_copies = false;
  EXPECT_FALSE(store.find(key));
  EXPECT_EQ(store.size(), 0u);
  // The store works on: create, erase (a built entry, destroyed in the deferred free),
  // create again.
  const auto created = store.create(key, "v");
  store.erase(key, created.version);
  EXPECT_FALSE(store.find(key));
  EXPECT_EQ(store.create(key, "w").value, "w");
  EXPECT_EQ(store.size(), 1u);
}

}  // namespace
}  // namespace vkv_test
