// Contract tests of the Store's single-record writes (include/vkv/store.hpp): create,
// update_with_version, patch_with_version, soft_delete, restore, erase. Each test
// checks the outcome, the version/revision bookkeeping, and for every failing call
// that it left no trace (the whole store, soft-deleted records included, unchanged).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using namespace vkv_contract;  // tests/support/contract.hpp

struct MutateError : std::runtime_error {
  MutateError() : std::runtime_error("mutate failed") {}
};

class StoreWriteTest : public ::testing::Test {
 protected:
  CustomerStore store{customer_options()};

  // A store with a few neighbours, so "no trace" also covers records not named.
  void SetUp() override {
    store.create("n1", Customer{"n1", 1});
    auto n2 = store.create("n2", Customer{"n2", 2});
    store.soft_delete("n2", n2.version);
  }
};

// The seed's race scenario: two readers of the same version, the first write wins, the
// second gets OptimisticLockError, and the first one's data is what persists.
TEST_F(StoreWriteTest, SeedRaceScenarioFirstWriteWins) {
  store.create("cust-123", Customer{"Initial", 0});
  auto reader_a = store.find("cust-123");
  auto reader_b = store.find("cust-123");
  ASSERT_TRUE(reader_a && reader_b);
  ASSERT_EQ(reader_a->version, reader_b->version);

  auto a = store.update_with_version("cust-123", reader_a->version, Customer{"Process A", 1});
  EXPECT_NE(a.version, reader_a->version);

  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("cust-123", reader_b->version, Customer{"Process B", 2}),
                 vkv::OptimisticLockError);
  }));
  auto now = store.find("cust-123");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->value, (Customer{"Process A", 1}));
  EXPECT_TRUE(same_record(*now, a));
}

TEST_F(StoreWriteTest, CreateIssuesRevisionOneAndAFreshVersion) {
  auto a = store.create("a", Customer{"Ada", 5});
  EXPECT_EQ(a.id, "a");
  EXPECT_EQ(a.value, (Customer{"Ada", 5}));
  EXPECT_EQ(a.revision, 1u);
  EXPECT_FALSE(a.deleted);
  EXPECT_FALSE(a.version.is_nil());
  EXPECT_TRUE(same_record(*store.find("a"), a));

  auto b = store.create("b", Customer{"Ada", 5});
  EXPECT_NE(b.version, a.version) << "two creates never share a version";
  EXPECT_EQ(b.revision, 1u);
}

TEST_F(StoreWriteTest, CreateOfExistingIdIsDuplicateAndLeavesNoTrace) {
  store.create("a", Customer{"Ada", 1});
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.create("a", Customer{"Other", 2}), vkv::DuplicateKeyError);
  }));
}

TEST_F(StoreWriteTest, CreateOfSoftDeletedIdIsDuplicate) {
  EXPECT_FALSE(store.find("n2").has_value());
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.create("n2", Customer{"again", 2}), vkv::DuplicateKeyError);
  }));
}

TEST_F(StoreWriteTest, EveryKindOfWriteIssuesAFreshVersionAndBumpsRevisionByOne) {
  std::vector<CustomerRecord> history;
  history.push_back(store.create("a", Customer{"Ada", 1}));
  history.push_back(store.update_with_version("a", history.back().version, Customer{"Ada", 2}));
  history.push_back(
      store.patch_with_version("a", history.back().version, [](Customer& c) { c.credit = 3; }));
  history.push_back(store.soft_delete("a", history.back().version));
  history.push_back(
      store.update_with_version("a", history.back().version, Customer{"Ada", 4}, kIncludeDeleted));
  history.push_back(store.patch_with_version(
      "a", history.back().version, [](Customer& c) { c.credit = 5; }, kIncludeDeleted));
  history.push_back(store.restore("a", history.back().version));
  // Writing the same value again is still a write: new version, new revision.
  history.push_back(store.update_with_version("a", history.back().version, Customer{"Ada", 5}));

  std::unordered_set<vkv::Version> seen;
  for (std::size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(history[i].revision, i + 1) << "write #" << i;
    EXPECT_FALSE(history[i].version.is_nil());
    EXPECT_TRUE(seen.insert(history[i].version).second) << "version reused at write #" << i;
  }
  EXPECT_TRUE(same_record(*store.find("a"), history.back()));
}

TEST_F(StoreWriteTest, UpdateReplacesTheValue) {
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Grace", 7});
  EXPECT_EQ(v2.id, "a");
  EXPECT_EQ(v2.value, (Customer{"Grace", 7}));
  EXPECT_FALSE(v2.deleted);
  EXPECT_TRUE(same_record(*store.find("a"), v2));
}

TEST_F(StoreWriteTest, UpdateOfAbsentIdIsNotFound) {
  auto some_version = store.find("n1")->version;
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("missing", vkv::Version{}, Customer{}),
                 vkv::EntityNotFoundError);
    EXPECT_THROW(store.update_with_version("missing", some_version, Customer{}),
                 vkv::EntityNotFoundError);
  }));
  EXPECT_FALSE(store.find("missing", kReadDeleted).has_value()) << "update never creates";
}

TEST_F(StoreWriteTest, UpdateWithStaleOrNilVersionIsConflict) {
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2});
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("a", v1.version, Customer{"X", 0}),
                 vkv::OptimisticLockError);
    EXPECT_THROW(store.update_with_version("a", vkv::Version{}, Customer{"X", 0}),
                 vkv::OptimisticLockError);
    // Another record's current version is not this record's version.
    EXPECT_THROW(store.update_with_version("a", store.find("n1")->version, Customer{"X", 0}),
                 vkv::OptimisticLockError);
  }));
  EXPECT_TRUE(same_record(*store.find("a"), v2));
}

TEST_F(StoreWriteTest, SoftDeletedWithoutIncludeIsNotFoundWhateverTheVersion) {
  auto current = snapshot(store, std::string("n2"));
  ASSERT_TRUE(current && current->deleted);
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("n2", current->version, Customer{"X", 0}),
                 vkv::EntityNotFoundError);
    EXPECT_THROW(store.update_with_version("n2", vkv::Version{}, Customer{"X", 0}),
                 vkv::EntityNotFoundError);
  }));
}

TEST_F(StoreWriteTest, UpdateOfSoftDeletedWithIncludeStaysDeleted) {
  auto before = *snapshot(store, std::string("n2"));
  auto after =
      store.update_with_version("n2", before.version, Customer{"updated", 22}, kIncludeDeleted);
  EXPECT_TRUE(after.deleted) << "include_soft_deleted does not undelete";
  EXPECT_EQ(after.value, (Customer{"updated", 22}));
  EXPECT_EQ(after.revision, before.revision + 1);
  EXPECT_NE(after.version, before.version);
  EXPECT_FALSE(store.find("n2").has_value());
  EXPECT_TRUE(same_record(*store.find("n2", kReadDeleted), after));

  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("n2", before.version, Customer{"X", 0}, kIncludeDeleted),
                 vkv::OptimisticLockError);
  }));
}

TEST_F(StoreWriteTest, IncludeSoftDeletedOnALiveRecordIsAPlainUpdate) {
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2}, kIncludeDeleted);
  EXPECT_FALSE(v2.deleted);
  EXPECT_EQ(v2.revision, 2u);
}

TEST_F(StoreWriteTest, PatchMutatesACopyOfTheCurrentValue) {
  auto v1 = store.create("a", Customer{"Ada", 10});
  Customer seen_by_mutate;
  auto v2 = store.patch_with_version("a", v1.version, [&](Customer& c) {
    seen_by_mutate = c;
    c.credit += 5;
  });
  EXPECT_EQ(seen_by_mutate, (Customer{"Ada", 10}));
  EXPECT_EQ(v2.value, (Customer{"Ada", 15}));
  EXPECT_EQ(v2.revision, 2u);
  EXPECT_NE(v2.version, v1.version);
  EXPECT_EQ(v1.value, (Customer{"Ada", 10})) << "records already handed out are not touched";
  EXPECT_TRUE(same_record(*store.find("a"), v2));
}

TEST_F(StoreWriteTest, PatchDoesNotCallMutateOnVersionMismatchOrNotFound) {
  auto v1 = store.create("a", Customer{"Ada", 10});
  store.update_with_version("a", v1.version, Customer{"Ada", 11});
  int calls = 0;
  auto mutate = [&](Customer& c) {
    ++calls;
    c.credit = -1;
  };
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.patch_with_version("a", v1.version, mutate), vkv::OptimisticLockError);
    EXPECT_THROW(store.patch_with_version("missing", v1.version, mutate), vkv::EntityNotFoundError);
    auto n2 = snapshot(store, std::string("n2"));
    EXPECT_THROW(store.patch_with_version("n2", n2->version, mutate), vkv::EntityNotFoundError);
  }));
  EXPECT_EQ(calls, 0);
}

TEST_F(StoreWriteTest, PatchWithThrowingMutateChangesNothingAndPropagates) {
  auto v1 = store.create("a", Customer{"Ada", 10});
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.patch_with_version("a", v1.version,
                                          [](Customer& c) {
                                            c.credit = 1000;  // half-done change must vanish
                                            throw MutateError();
                                          }),
                 MutateError);
  }));
  // The version read before is still current: the failed patch consumed nothing.
  auto v2 = store.patch_with_version("a", v1.version, [](Customer& c) { c.credit += 1; });
  EXPECT_EQ(v2.value.credit, 11);
  EXPECT_EQ(v2.revision, 2u);
}

TEST_F(StoreWriteTest, PatchOfSoftDeletedWithIncludeStaysDeleted) {
  auto before = *snapshot(store, std::string("n2"));
  auto after = store.patch_with_version(
      "n2", before.version, [](Customer& c) { c.credit = 99; }, kIncludeDeleted);
  EXPECT_TRUE(after.deleted);
  EXPECT_EQ(after.value, (Customer{"n2", 99}));
  EXPECT_EQ(after.revision, before.revision + 1);
}

TEST_F(StoreWriteTest, SoftDeleteHidesTheRecordButKeepsItsValue) {
  auto v1 = store.create("a", Customer{"Ada", 1});
  std::size_t size_before = store.size();
  auto v2 = store.soft_delete("a", v1.version);
  EXPECT_TRUE(v2.deleted);
  EXPECT_EQ(v2.value, v1.value);
  EXPECT_EQ(v2.revision, 2u);
  EXPECT_NE(v2.version, v1.version);
  EXPECT_FALSE(store.find("a").has_value());
  EXPECT_TRUE(same_record(*store.find("a", kReadDeleted), v2));
  EXPECT_EQ(store.size(), size_before - 1);
}

TEST_F(StoreWriteTest, SoftDeleteOfDeletedAbsentOrStaleFails) {
  auto n2 = *snapshot(store, std::string("n2"));
  auto v1 = store.create("a", Customer{"Ada", 1});
  store.update_with_version("a", v1.version, Customer{"Ada", 2});
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.soft_delete("n2", n2.version), vkv::EntityNotFoundError);
    EXPECT_THROW(store.soft_delete("missing", n2.version), vkv::EntityNotFoundError);
    EXPECT_THROW(store.soft_delete("a", v1.version), vkv::OptimisticLockError);
  }));
}

TEST_F(StoreWriteTest, RestoreUndoesSoftDelete) {
  auto deleted = *snapshot(store, std::string("n2"));
  std::size_t size_before = store.size();
  auto restored = store.restore("n2", deleted.version);
  EXPECT_FALSE(restored.deleted);
  EXPECT_EQ(restored.value, deleted.value);
  EXPECT_EQ(restored.revision, deleted.revision + 1);
  EXPECT_NE(restored.version, deleted.version);
  EXPECT_TRUE(same_record(*store.find("n2"), restored));
  EXPECT_EQ(store.size(), size_before + 1);
}

TEST_F(StoreWriteTest, RestoreOfLiveAbsentOrStaleFails) {
  auto n1 = *store.find("n1");
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.soft_delete("a", v1.version);
  (void)v2;
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.restore("n1", n1.version), vkv::EntityNotFoundError)
        << "restore of a record that is not soft-deleted";
    EXPECT_THROW(store.restore("missing", n1.version), vkv::EntityNotFoundError);
    EXPECT_THROW(store.restore("a", v1.version), vkv::OptimisticLockError);
  }));
}

TEST_F(StoreWriteTest, EraseRemovesTheRecord) {
  auto v1 = store.create("a", Customer{"Ada", 1});
  std::size_t size_before = store.size();
  store.erase("a", v1.version);
  EXPECT_FALSE(store.find("a").has_value());
  EXPECT_FALSE(store.find("a", kReadDeleted).has_value());
  EXPECT_EQ(store.size(), size_before - 1);
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.erase("a", v1.version), vkv::EntityNotFoundError);
    EXPECT_THROW(store.update_with_version("a", v1.version, Customer{}), vkv::EntityNotFoundError);
  }));
}

TEST_F(StoreWriteTest, EraseWithWrongVersionIsConflictAndChangesNothing) {
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2});
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.erase("a", v1.version), vkv::OptimisticLockError);
    EXPECT_THROW(store.erase("a", vkv::Version{}), vkv::OptimisticLockError);
    EXPECT_THROW(store.erase("missing", v2.version), vkv::EntityNotFoundError);
  }));
  EXPECT_TRUE(same_record(*store.find("a"), v2));
}

TEST_F(StoreWriteTest, EraseOfSoftDeletedRecordPurgesIt) {
  auto n2 = *snapshot(store, std::string("n2"));
  std::size_t size_before = store.size();
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.erase("n2", store.find("n1")->version), vkv::OptimisticLockError);
  }));
  store.erase("n2", n2.version);
  EXPECT_FALSE(store.find("n2", kReadDeleted).has_value());
  EXPECT_EQ(store.size(), size_before) << "a soft-deleted record was not counted";
}

TEST_F(StoreWriteTest, EraseThenRecreateGivesOnlyFreshVersions) {
  std::unordered_set<vkv::Version> first_life;
  auto r = store.create("a", Customer{"Ada", 1});
  first_life.insert(r.version);
  for (int i = 0; i < 5; ++i) {
    r = store.update_with_version("a", r.version, Customer{"Ada", i});
    first_life.insert(r.version);
  }
  r = store.soft_delete("a", r.version);
  first_life.insert(r.version);
  auto last_of_first_life = r.version;
  store.erase("a", r.version);

  auto again = store.create("a", Customer{"Again", 0});
  EXPECT_EQ(again.revision, 1u) << "a re-created record starts over";
  EXPECT_FALSE(again.deleted);
  EXPECT_EQ(first_life.count(again.version), 0u);
  std::vector<CustomerRecord> second_life{again};
  for (int i = 0; i < 5; ++i) {
    second_life.push_back(
        store.update_with_version("a", second_life.back().version, Customer{"Again", i}));
  }
  for (const auto& rec : second_life) {
    EXPECT_EQ(first_life.count(rec.version), 0u) << "version " << rec.version << " seen before";
  }
  // A version from the first life cannot address the second one.
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("a", last_of_first_life, Customer{}),
                 vkv::OptimisticLockError);
  }));
}

TEST_F(StoreWriteTest, EraseAndRecreateOfSoftDeletedId) {
  auto n2 = *snapshot(store, std::string("n2"));
  store.erase("n2", n2.version);
  auto again = store.create("n2", Customer{"n2 again", 0});
  EXPECT_EQ(again.revision, 1u);
  EXPECT_NE(again.version, n2.version);
  EXPECT_TRUE(same_record(*store.find("n2"), again));
}

TEST_F(StoreWriteTest, WritesToOneRecordDoNotTouchOthers) {
  auto n1 = *store.find("n1");
  auto n2 = *snapshot(store, std::string("n2"));
  auto a = store.create("a", Customer{"Ada", 1});
  a = store.update_with_version("a", a.version, Customer{"Ada", 2});
  a = store.soft_delete("a", a.version);
  store.erase("a", a.version);
  EXPECT_TRUE(same_record(*store.find("n1"), n1));
  EXPECT_TRUE(same_record(*snapshot(store, std::string("n2")), n2));
}

}  // namespace
