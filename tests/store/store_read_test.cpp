// Contract tests of the Store's reads and bookkeeping (include/vkv/store.hpp,
// include/vkv/stats.hpp): find with and without soft-deleted records, size(), for_each, and stats()
// counted exactly over a single-threaded sequence.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using namespace vkv_contract;  // tests/support/contract.hpp

TEST(StoreFindTest, AbsentIsNullopt) {
  CustomerStore store;
  EXPECT_FALSE(store.find("nope").has_value());
  EXPECT_FALSE(store.find("nope", kReadDeleted).has_value());
}

TEST(StoreFindTest, SoftDeletedOnlyWhenIncluded) {
  CustomerStore store;
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.soft_delete("a", v1.version);
  EXPECT_FALSE(store.find("a").has_value());
  EXPECT_FALSE(store.find("a", vkv::ReadOptions{}).has_value());
  auto found = store.find("a", kReadDeleted);
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(same_record(*found, v2));
  EXPECT_TRUE(found->deleted);
}

TEST(StoreFindTest, ReturnsACopyIndependentOfLaterWrites) {
  CustomerStore store;
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto before = store.find("a");
  store.update_with_version("a", v1.version, Customer{"Ada", 2});
  ASSERT_TRUE(before);
  EXPECT_EQ(before->value, (Customer{"Ada", 1}));
  EXPECT_EQ(before->version, v1.version);
}

TEST(StoreFindTest, WorksOnAConstStore) {
  CustomerStore store;
  store.create("a", Customer{"Ada", 1});
  const CustomerStore& view = store;
  EXPECT_TRUE(view.find("a").has_value());
  EXPECT_EQ(view.size(), 1u);
  int visits = 0;
  view.for_each([&](const CustomerRecord&) { ++visits; });
  EXPECT_EQ(visits, 1);
  EXPECT_EQ(view.stats().reads, 1u);
}

TEST(StoreSizeTest, CountsRecordsNotSoftDeleted) {
  CustomerStore store;
  EXPECT_EQ(store.size(), 0u);
  auto a = store.create("a", Customer{"a", 1});
  auto b = store.create("b", Customer{"b", 2});
  store.create("c", Customer{"c", 3});
  EXPECT_EQ(store.size(), 3u);
  a = store.soft_delete("a", a.version);
  EXPECT_EQ(store.size(), 2u);
  a = store.update_with_version("a", a.version, Customer{"a", 9}, kIncludeDeleted);
  EXPECT_EQ(store.size(), 2u) << "an update of a deleted record keeps it deleted";
  a = store.restore("a", a.version);
  EXPECT_EQ(store.size(), 3u);
  store.erase("b", b.version);
  EXPECT_EQ(store.size(), 2u);
  a = store.soft_delete("a", a.version);
  store.erase("a", a.version);
  EXPECT_EQ(store.size(), 1u);
  // Failed writes do not move it.
  EXPECT_THROW(store.create("c", Customer{}), vkv::DuplicateKeyError);
  EXPECT_THROW(store.erase("c", vkv::Version{}), vkv::OptimisticLockError);
  EXPECT_EQ(store.size(), 1u);
}

TEST(StoreForEachTest, VisitsEachRecordOnceSoftDeletedOnlyWhenIncluded) {
  CustomerStore store;
  std::map<std::string, CustomerRecord> expected_live, expected_all;
  for (int i = 0; i < 20; ++i) {
    auto r = store.create("k" + std::to_string(i), Customer{"c", i});
    if (i % 3 == 0) r = store.soft_delete(r.id, r.version);
    if (!r.deleted) expected_live.emplace(r.id, r);
    expected_all.emplace(r.id, r);
  }
  // And one erased record, which no traversal shows.
  auto gone = store.create("gone", Customer{"gone", 0});
  store.erase("gone", gone.version);

  auto collect = [&](vkv::ReadOptions options) {
    std::map<std::string, CustomerRecord> seen;
    int visits = 0;
    store.for_each(
        [&](const CustomerRecord& r) {
          ++visits;
          seen.emplace(r.id, r);
        },
        options);
    EXPECT_EQ(visits, static_cast<int>(seen.size())) << "a record was visited twice";
    return seen;
  };
  auto live = collect({});
  auto all = collect(kReadDeleted);
  ASSERT_EQ(live.size(), expected_live.size());
  ASSERT_EQ(all.size(), expected_all.size());
  for (const auto& [id, r] : expected_live) {
    ASSERT_TRUE(live.count(id)) << id;
    EXPECT_TRUE(same_record(live.at(id), r)) << id;
  }
  for (const auto& [id, r] : expected_all) {
    ASSERT_TRUE(all.count(id)) << id;
    EXPECT_TRUE(same_record(all.at(id), r)) << id;
  }
}

TEST(StoreForEachTest, EmptyStoreVisitsNothing) {
  CustomerStore store;
  int visits = 0;
  store.for_each([&](const CustomerRecord&) { ++visits; });
  store.for_each([&](const CustomerRecord&) { ++visits; }, kReadDeleted);
  EXPECT_EQ(visits, 0);
}

// ---------------------------------------------------------------- stats

TEST(StoreStatsTest, StartsAtZero) {
  CustomerStore store;
  auto s = store.stats();
  EXPECT_EQ(s.reads, 0u);
  EXPECT_EQ(s.creates, 0u);
  EXPECT_EQ(s.writes, 0u);
  EXPECT_EQ(s.conflicts, 0u);
  EXPECT_EQ(s.not_found, 0u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.retries_exhausted, 0u);
  EXPECT_EQ(s.conflict_rate(), 0.0);
}

TEST(StoreStatsTest, CountsExactlyInASingleThreadedSequence) {
  CustomerStore store(customer_options());
  auto a = store.create("a", Customer{"a", 1});                         // creates 1
  auto b = store.create("b", Customer{"b", 1});                         // creates 2
  EXPECT_THROW(store.create("a", Customer{}), vkv::DuplicateKeyError);  // counted nowhere
  EXPECT_FALSE(store.try_create("b", Customer{}).ok());                 // counted nowhere

  EXPECT_TRUE(store.find("a"));                // reads 1
  EXPECT_FALSE(store.find("zz"));              // reads 2 (a miss is a read, not a not_found)
  EXPECT_TRUE(store.find("b", kReadDeleted));  // reads 3

  auto a2 = store.update_with_version("a", a.version, Customer{"a", 2});            // writes 1
  a2 = store.patch_with_version("a", a2.version, [](Customer& c) { c.credit++; });  // writes 2
  EXPECT_THROW(store.update_with_version("a", a.version, Customer{}),
               vkv::OptimisticLockError);                                        // conflicts 1
  EXPECT_FALSE(store.try_patch_with_version("a", a.version, [](Customer&) {}));  // conflicts 2
  EXPECT_THROW(store.update_with_version("zz", a.version, Customer{}),
               vkv::EntityNotFoundError);                // not_found 1
  EXPECT_FALSE(store.try_soft_delete("zz", a.version));  // not_found 2

  auto b2 = store.soft_delete("b", b.version);  // writes 3
  EXPECT_THROW(store.update_with_version("b", b2.version, Customer{}),
               vkv::EntityNotFoundError);  // not_found 3 (deleted, not included)
  b2 = store.update_with_version("b", b2.version, Customer{"b", 2}, kIncludeDeleted);  // writes 4
  b2 = store.restore("b", b2.version);                                                 // writes 5
  EXPECT_FALSE(store.try_erase("b", b.version));   // conflicts 3
  store.erase("b", b2.version);                    // writes 6
  EXPECT_FALSE(store.try_erase("b", b2.version));  // not_found 4

  auto s = store.stats();
  EXPECT_EQ(s.creates, 2u);
  EXPECT_EQ(s.reads, 3u) << "internal reads of writes are not counted";
  EXPECT_EQ(s.writes, 6u);
  EXPECT_EQ(s.conflicts, 3u);
  EXPECT_EQ(s.not_found, 4u);
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.retries_exhausted, 0u);
  EXPECT_DOUBLE_EQ(s.conflict_rate(), 3.0 / 9.0);
}

TEST(StoreStatsTest, ConflictRateIsConflictsOverAttempts) {
  CustomerStore store;
  auto v = store.create("a", Customer{"a", 0});
  EXPECT_EQ(store.stats().conflict_rate(), 0.0) << "a create is not a version-checked write";
  auto stale = v.version;
  v = store.update_with_version("a", v.version, Customer{"a", 1});
  EXPECT_DOUBLE_EQ(store.stats().conflict_rate(), 0.0);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(store.try_update_with_version("a", stale, Customer{}));
  auto s = store.stats();
  EXPECT_EQ(s.writes, 1u);
  EXPECT_EQ(s.conflicts, 3u);
  EXPECT_DOUBLE_EQ(s.conflict_rate(), 0.75);
  // Only conflicts: rate 1.
  CustomerStore other;
  auto o = other.create("a", Customer{"a", 0});
  EXPECT_FALSE(other.try_update_with_version("a", vkv::Version{}, Customer{}));
  EXPECT_DOUBLE_EQ(other.stats().conflict_rate(), 1.0);
  (void)o;
}

TEST(StoreStatsTest, StatsOfASeparateStoreAreSeparate) {
  CustomerStore one;
  CustomerStore two;
  one.create("a", Customer{});
  EXPECT_EQ(one.stats().creates, 1u);
  EXPECT_EQ(two.stats().creates, 0u);
}

}  // namespace
