// The lock-free lookup table in front of the index (detail/lookup_table.hpp): reads
// and writes of existing keys keep finding them while tables are rebuilt (grown) and
// other keys are erased and re-created, and for_each, which scans the tables slice by
// slice without a lock, hands out every record present throughout exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "support/stress.hpp"
#include "vkv/vkv.hpp"

namespace {

using vkv_test::scaled;

std::string base_key(int i) { return "base-" + std::to_string(i); }
std::string grow_key(int i) { return "grow-" + std::to_string(i); }

// One shard, so every create lands in the same table and rebuilds it often.
vkv::StoreOptions one_shard() {
  vkv::StoreOptions options;
  options.shards = 1;
  return options;
}

TEST(LookupTable, FindsSurviveRebuildsEraseAndRecreate) {
  vkv::Store<std::int64_t> store(one_shard());
  constexpr int kBase = 512;
  for (int i = 0; i < kBase; ++i) store.create(base_key(i), i);
  const int grow = static_cast<int>(scaled(60000, 8));
  const int churn_rounds = static_cast<int>(scaled(20000, 8));

  std::atomic<int> ready{0};
  std::atomic<bool> done{false};
  auto start = [&] {
    // acq_rel: a start barrier, so the threads' loops overlap.
    ready.fetch_add(1, std::memory_order_acq_rel);
    while (ready.load(std::memory_order_acquire) < 4) std::this_thread::yield();
  };
  std::atomic<std::int64_t> misses{0}, wrong{0}, reads{0}, reads_while_growing{0};
  std::thread grower([&] {
    start();
    for (int i = 0; i < grow; ++i) store.create(grow_key(i), -1);
    done.store(true, std::memory_order_release);  // release: pairs with the readers
  });
  std::thread churner([&] {  // erase and re-create one key, over and over
    start();
    store.create("churn", 0);
    for (int r = 0; r < churn_rounds; ++r) {
      const auto now = store.find("churn");
      ASSERT_TRUE(now);
      store.erase("churn", now->version);
      store.create("churn", r);
    }
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      start();
      std::uint64_t n = static_cast<std::uint64_t>(t) * 7919;
      while (!done.load(std::memory_order_acquire)) {
        const int i = static_cast<int>(n++ % kBase);
        bool seen = false;
        const bool found = (n & 1) != 0 ? store.visit(base_key(i),
                                                      [&](const auto& view) {
                                                        seen = true;
                                                        if (view.value != i) ++wrong;
                                                      })
                                        : static_cast<bool>(store.find(base_key(i)));
        if (!found || ((n & 1) != 0 && !seen)) ++misses;
        ++reads;
        ++reads_while_growing;
      }
    });
  }
  grower.join();
  churner.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(misses.load(), 0) << "a record present throughout was not found";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(reads_while_growing.load(), 0) << "no read overlapped the table rebuilds";
  // Every grown key is there, and findable; the churned key holds its last value.
  for (int i = 0; i < grow; ++i) ASSERT_TRUE(store.find(grow_key(i))) << grow_key(i);
  EXPECT_EQ(store.find("churn")->value, churn_rounds - 1);
  EXPECT_EQ(store.size(), static_cast<std::size_t>(kBase + grow + 1));
}

TEST(LookupTable, ForEachSeesEveryRecordPresentThroughoutExactlyOnce) {
  vkv::Store<std::int64_t> store(one_shard());
  constexpr int kBase = 3000;
  for (int i = 0; i < kBase; ++i) store.create(base_key(i), i);
  const int grow = static_cast<int>(scaled(40000, 8));
  // The grower goes on (up to 50x its count) until three passes ran entirely during its
  // growth, so the check cannot pass vacuously on a slow (sanitized) build.
  const int grow_max = grow * 50;
  std::atomic<bool> done{false};
  std::atomic<bool> started{false};
  std::atomic<int> passes_during_growth{0}, grown{0};
  std::thread grower([&] {
    started.store(true, std::memory_order_release);  // release: pairs with the scanner
    int i = 0;
    // acquire: the scanner's count of overlapping passes, read to decide when to stop.
    for (; i < grow_max && (i < grow || passes_during_growth.load(std::memory_order_acquire) < 3);
         ++i) {
      store.create(grow_key(i), -1);
    }
    grown.store(i, std::memory_order_relaxed);  // relaxed: read after join()
    done.store(true, std::memory_order_release);
  });
  while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
  int passes = 0;
  do {
    const bool growing = !done.load(std::memory_order_acquire);
    std::unordered_map<std::string, int> seen;
    store.for_each([&](const vkv::Record<std::int64_t>& record) { ++seen[record.id]; });
    for (int i = 0; i < kBase; ++i) {
      const auto it = seen.find(base_key(i));
      ASSERT_NE(it, seen.end()) << base_key(i) << " missed in pass " << passes;
      ASSERT_EQ(it->second, 1) << base_key(i) << " seen twice in pass " << passes;
    }
    for (const auto& [id, count] : seen) ASSERT_EQ(count, 1) << id << " seen twice";
    ++passes;
    if (growing && !done.load(std::memory_order_acquire)) {
      passes_during_growth.fetch_add(1, std::memory_order_acq_rel);  // acq_rel: read by the grower
    }
  } while (!done.load(std::memory_order_acquire) || passes < 3);
  grower.join();
  std::cout << "[lookup] " << passes << " for_each passes, " << passes_during_growth.load()
            << " entirely during growth of " << grown.load() << " records\n";
  EXPECT_GT(passes_during_growth.load(), 0) << "no pass overlapped the growth";
  std::size_t total = 0;
  store.for_each([&](const auto&) { ++total; });
  EXPECT_EQ(total, static_cast<std::size_t>(kBase + grown.load()));
}

TEST(LookupTable, ForEachCallbackMayEraseAndCreate) {
  vkv::Store<int> store(one_shard());
  for (int i = 0; i < 1000; ++i) store.create(base_key(i), i);
  int visited = 0;
  store.for_each([&](const vkv::Record<int>& record) {
    ++visited;
    store.erase(record.id, record.version);  // no lock is held: this cannot deadlock
  });
  EXPECT_EQ(visited, 1000);
  EXPECT_EQ(store.size(), 0u);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(store.find(base_key(i)));
}

}  // namespace
