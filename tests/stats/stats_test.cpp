// StoreStats: exact counts single-threaded, and no lost counts under concurrency
// (owned per-thread cells and, past 64 live threads, the shared cells).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace {

using Store = vkv::Store<int>;

TEST(StoreStats, FreshStoreIsAllZero) {
  Store store;
  const vkv::StoreStats s = store.stats();
  EXPECT_EQ(s.reads + s.creates + s.writes + s.conflicts + s.not_found + s.retries +
                s.retries_exhausted + s.turns,
            0u);
  EXPECT_EQ(s.conflict_rate(), 0.0);
}

TEST(StoreStats, ConflictRateIsConflictsOverWritesPlusConflicts) {
  vkv::StoreStats s;
  s.writes = 3;
  s.conflicts = 1;
  EXPECT_DOUBLE_EQ(s.conflict_rate(), 0.25);
  s.writes = 0;
  EXPECT_DOUBLE_EQ(s.conflict_rate(), 1.0);
}

TEST(StoreStats, SingleThreadedCountsAreExact) {
  Store store;
  const auto a = store.create("a", 1);
  const auto b = store.create("b", 2);
  auto c = store.create("c", 3);
  EXPECT_THROW(store.create("a", 9), vkv::DuplicateKeyError);  // not a create
  EXPECT_FALSE(store.try_create("b", 9).ok());

  // Reads: every key looked up, hits and misses alike.
  (void)store.find("a");
  (void)store.find("missing");
  const std::vector<std::string> ids{"a", "b", "nope", "c"};
  (void)store.find_many(ids);

  // Successful writes of every kind.
  const auto a2 = store.update_with_version("a", a.version, 10);
  const auto b2 = store.patch_with_version("b", b.version, [](int& v) { v += 1; });
  const auto c2 = store.soft_delete("c", c.version);
  const auto c3 = store.restore("c", c2.version);
  ASSERT_TRUE(store.try_update_with_version("c", c3.version, 33).ok());

  // Conflicts: stale versions, throwing and not.
  EXPECT_THROW(store.update_with_version("a", a.version, 11), vkv::OptimisticLockError);
  EXPECT_FALSE(store.try_patch_with_version("b", b.version, [](int&) {}).ok());
  EXPECT_THROW(store.erase("a", a.version), vkv::OptimisticLockError);

  // Not found: absent, and soft-deleted.
  EXPECT_THROW(store.update_with_version("zzz", a.version, 1), vkv::EntityNotFoundError);
  const auto b3 = store.soft_delete("b", b2.version);
  EXPECT_FALSE(store.try_update_with_version("b", b3.version, 5).ok());

  // Hard delete: a write.
  store.erase("a", a2.version);

  const vkv::StoreStats s = store.stats();
  EXPECT_EQ(s.creates, 3u);
  EXPECT_EQ(s.reads, 6u);
  EXPECT_EQ(s.writes, 7u);  // update, patch, soft_delete, restore, try_update, soft_delete, erase
  EXPECT_EQ(s.conflicts, 3u);
  EXPECT_EQ(s.not_found, 2u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.retries_exhausted, 0u);
  EXPECT_EQ(s.turns, 0u);
  EXPECT_DOUBLE_EQ(s.conflict_rate(), 3.0 / 10.0);
}

TEST(StoreStats, UpdateManyCountsEachWrite) {
  Store store;
  const auto a = store.create("a", 1);
  const auto b = store.create("b", 2);
  std::vector<Store::VersionedWrite> writes{{"a", a.version, 5}, {"b", a.version, 6}};
  const auto results = store.update_many(writes);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(results[1].ok());
  (void)b;
  EXPECT_EQ(store.stats().writes, 1u);
  EXPECT_EQ(store.stats().conflicts, 1u);
}

// N threads x M operations, each thread on its own keys: every count is exact.
TEST(StoreStatsConcurrency, NoLostCountsAcrossThreads) {
  constexpr int kThreads = 8;
  const auto ops = static_cast<int>(vkv_test::scaled(4000));
  Store store;
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "t" + std::to_string(t);
      start.arrive_and_wait();
      auto record = store.create(key, 0);
      for (int i = 0; i < ops; ++i) {
        (void)store.find(key);
        record = store.update_with_version(key, record.version, i);
        EXPECT_FALSE(store.try_update_with_version(key, vkv::Version(), i).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const vkv::StoreStats s = store.stats();
  const auto total = static_cast<std::uint64_t>(kThreads) * static_cast<std::uint64_t>(ops);
  EXPECT_EQ(s.creates, static_cast<std::uint64_t>(kThreads));
  EXPECT_EQ(s.reads, total);
  EXPECT_EQ(s.writes, total);
  EXPECT_EQ(s.conflicts, total);
  EXPECT_EQ(s.not_found, 0u);
}

// One hot key under update_with_retry: writes exact, and every conflict was retried.
TEST(StoreStatsConcurrency, HotKeyRetriesMatchConflicts) {
  constexpr int kThreads = 4;
  const auto ops = static_cast<int>(vkv_test::scaled(3000));
  Store store;
  store.create("hot", 0);
  vkv::RetryPolicy policy;
  policy.max_retries = 1'000'000;  // never exhausted
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < ops; ++i)
        store.update_with_retry(
            "hot", [](int& v) { ++v; }, policy);
    });
  }
  for (std::thread& t : threads) t.join();
  const vkv::StoreStats s = store.stats();
  const auto total = static_cast<std::uint64_t>(kThreads) * static_cast<std::uint64_t>(ops);
  EXPECT_EQ(store.find("hot")->value, static_cast<int>(total));
  EXPECT_EQ(s.writes, total);
  EXPECT_EQ(s.retries, s.conflicts);
  EXPECT_EQ(s.retries_exhausted, 0u);
}

// More live threads than owned cells (64): the rest share cells with fetch_add.
TEST(StoreStatsConcurrency, SharedCellsPastSixtyFourLiveThreads) {
  constexpr int kThreads = 72;
  const auto ops = static_cast<int>(vkv_test::scaled(200));
  Store store;
  store.create("k", 0);
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      (void)store.find("k");  // attach while every thread is alive: 72 distinct records
      start.arrive_and_wait();
      for (int i = 0; i < ops; ++i) (void)store.find("k");
      start.arrive_and_wait();  // nobody exits (and frees its record) before all are done
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(store.stats().reads,
            static_cast<std::uint64_t>(kThreads) * (static_cast<std::uint64_t>(ops) + 1));
}

}  // namespace
