// Contract tests of the batch operations (include/vkv/store.hpp: find_many and update_many):
// find_many answers in the order asked, one answer per id (duplicates and missing ids
// included); update_many applies each write independently, like Promise.allSettled,
// one Result per write, in order. Single-threaded and exact.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

struct Item {
  std::string name;
  std::int64_t qty = 0;
  friend bool operator==(const Item&, const Item&) = default;
};

using ItemStore = vkv::Store<Item>;
using Rec = ItemStore::record_type;
using Write = ItemStore::VersionedWrite;

std::string key(int i) { return "item-" + std::to_string(i); }

::testing::AssertionResult same_record(const Rec& a, const Rec& b) {
  if (a.id == b.id && a.value == b.value && a.version == b.version && a.revision == b.revision &&
      a.deleted == b.deleted) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "records differ: " << a.id << " vs " << b.id
                                       << ", version " << a.version << " vs " << b.version;
}

class BatchTest : public ::testing::Test {
 protected:
  BatchTest() : store_(options()) {
    for (int i = 0; i < 10; ++i) recs_.push_back(store_.create(key(i), Item{key(i), i}));
  }
  static vkv::StoreOptions options() {
    vkv::StoreOptions o;
    o.entity_type = "Item";
    o.on_conflict = [](const vkv::ConflictEvent& e) { conflict_ids().push_back(e.entity_id); };
    return o;
  }
  static std::vector<std::string>& conflict_ids() {
    static std::vector<std::string> ids;
    return ids;
  }
  void SetUp() override { conflict_ids().clear(); }

  ItemStore store_;
  std::vector<Rec> recs_;
};

// ---- find_many ----

TEST_F(BatchTest, FindManyAnswersInTheOrderAsked) {
  const std::vector<std::string> ids{key(7), key(2), key(9), key(0), key(5)};
  const auto found = store_.find_many(ids);
  ASSERT_EQ(found.size(), ids.size());
  const int expected[] = {7, 2, 9, 0, 5};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(found[i].has_value()) << i;
    EXPECT_TRUE(same_record(*found[i], recs_[expected[i]]));
  }
}

TEST_F(BatchTest, FindManyMatchesFindForEveryId) {
  // A mix of present, missing, soft-deleted and erased ids, with and without
  // include_soft_deleted: find_many(ids)[i] is exactly find(ids[i]).
  recs_[3] = store_.soft_delete(key(3), recs_[3].version);
  store_.erase(key(4), recs_[4].version);
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(key(11 - i));
  for (const bool include : {false, true}) {
    const vkv::ReadOptions options{include};
    const auto found = store_.find_many(ids, options);
    ASSERT_EQ(found.size(), ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto one = store_.find(ids[i], options);
      ASSERT_EQ(found[i].has_value(), one.has_value()) << ids[i] << " include=" << include;
      if (one) {
        EXPECT_TRUE(same_record(*found[i], *one));
      }
    }
    EXPECT_FALSE(found[0].has_value());        // item-11: never created
    EXPECT_FALSE(found[1].has_value());        // item-10
    EXPECT_FALSE(found[7].has_value());        // item-4: erased
    EXPECT_EQ(found[8].has_value(), include);  // item-3: soft-deleted
    if (include) {
      EXPECT_TRUE(found[8]->deleted);
    }
  }
}

TEST_F(BatchTest, FindManyRepeatsAnswersForDuplicateIds) {
  const std::vector<std::string> ids{key(1), key(1), "absent", key(2), key(1), "absent"};
  const auto found = store_.find_many(ids);
  ASSERT_EQ(found.size(), 6u);
  EXPECT_TRUE(same_record(*found[0], recs_[1]));
  EXPECT_TRUE(same_record(*found[1], recs_[1]));
  EXPECT_FALSE(found[2].has_value());
  EXPECT_TRUE(same_record(*found[3], recs_[2]));
  EXPECT_TRUE(same_record(*found[4], recs_[1]));
  EXPECT_FALSE(found[5].has_value());
}

TEST_F(BatchTest, FindManyOfNothingIsEmpty) {
  const std::vector<std::string> none;
  EXPECT_TRUE(store_.find_many(none).empty());
  EXPECT_TRUE(store_.find_many(std::span<const std::string>()).empty());
}

TEST_F(BatchTest, FindManyLargerThanOneChunk) {
  // Batches longer than any internal grouping still answer every id in order.
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(key(i % 13));
  const auto found = store_.find_many(ids);
  ASSERT_EQ(found.size(), ids.size());
  for (int i = 0; i < 1000; ++i) {
    const int k = i % 13;
    ASSERT_EQ(found[i].has_value(), k < 10) << i;
    if (k < 10) {
      EXPECT_EQ(found[i]->value.qty, k);
    }
  }
}

TEST_F(BatchTest, FindManyCountsOneReadPerIdAsked) {
  const auto before = store_.stats();
  const std::vector<std::string> ids{key(1), key(1), "absent", key(2)};
  store_.find_many(ids);
  store_.find_many(std::span<const std::string>());
  const auto after = store_.stats();
  // Every key looked up counts, duplicates and misses included; nothing else moves.
  EXPECT_EQ(after.reads - before.reads, 4u);
  EXPECT_EQ(after.writes, before.writes);
  EXPECT_EQ(after.not_found, before.not_found);
  EXPECT_EQ(after.conflicts, before.conflicts);
}

TEST(BatchKeysTest, FindManyWithIntegerKeys) {
  vkv::Store<std::string, int> store;
  for (int i = 0; i < 5; ++i) store.create(i * 10, "v" + std::to_string(i));
  const std::vector<int> ids{40, 0, 5, 20};
  const auto found = store.find_many(ids);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[0]->value, "v4");
  EXPECT_EQ(found[1]->value, "v0");
  EXPECT_FALSE(found[2].has_value());
  EXPECT_EQ(found[3]->value, "v2");
  EXPECT_EQ(found[3]->id, 20);
}

// ---- update_many ----

TEST_F(BatchTest, UpdateManyAppliesEachWriteIndependently) {
  // ok, conflict, not found (absent), ok, not found (soft-deleted), ok.
  recs_[6] = store_.soft_delete(key(6), recs_[6].version);
  const vkv::Version stale = recs_[1].version;
  recs_[1] = store_.update_with_version(key(1), stale, Item{"moved", 100});
  const auto before = store_.stats();
  const std::vector<Write> writes{
      {key(0), recs_[0].version, Item{"a", 1}},   {key(1), stale, Item{"b", 2}},
      {"absent", recs_[2].version, Item{"c", 3}}, {key(2), recs_[2].version, Item{"d", 4}},
      {key(6), recs_[6].version, Item{"e", 5}},   {key(3), recs_[3].version, Item{"f", 6}},
  };
  const auto results = store_.update_many(writes);
  const auto after = store_.stats();
  ASSERT_EQ(results.size(), writes.size());

  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0].value().value, (Item{"a", 1}));
  EXPECT_EQ(results[0].value().revision, 2u);
  EXPECT_NE(results[0].value().version, recs_[0].version);

  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error(), vkv::Errc::conflict);
  EXPECT_EQ(results[1].error_info().entity_id, key(1));
  EXPECT_EQ(results[1].error_info().expected, stale);
  EXPECT_EQ(results[1].error_info().actual, recs_[1].version);
  ASSERT_TRUE(results[1].current().has_value());  // the record as it is now
  EXPECT_TRUE(same_record(*results[1].current(), recs_[1]));

  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error(), vkv::Errc::not_found);
  EXPECT_EQ(results[2].error_info().entity_id, "absent");
  EXPECT_FALSE(results[2].current().has_value());

  ASSERT_TRUE(results[3].ok());
  EXPECT_EQ(results[3].value().value, (Item{"d", 4}));

  ASSERT_FALSE(results[4].ok());
  EXPECT_EQ(results[4].error(), vkv::Errc::not_found);  // soft-deleted, not included

  ASSERT_TRUE(results[5].ok());
  EXPECT_EQ(results[5].value().value, (Item{"f", 6}));

  // What succeeded is in the store; what failed did not change anything.
  EXPECT_TRUE(same_record(*store_.find(key(0)), results[0].value()));
  EXPECT_TRUE(same_record(*store_.find(key(1)), recs_[1]));
  EXPECT_FALSE(store_.find("absent", vkv::ReadOptions{true}).has_value());
  EXPECT_TRUE(same_record(*store_.find(key(2)), results[3].value()));
  EXPECT_TRUE(same_record(*store_.find(key(6), vkv::ReadOptions{true}), recs_[6]));
  EXPECT_TRUE(same_record(*store_.find(key(3)), results[5].value()));

  // One counter step per write (update_many reads nothing as a find), and on_conflict
  // once, for the conflict.
  EXPECT_EQ(after.writes - before.writes, 3u);
  EXPECT_EQ(after.conflicts - before.conflicts, 1u);
  EXPECT_EQ(after.not_found - before.not_found, 2u);
  EXPECT_EQ(after.reads, before.reads);
  ASSERT_EQ(conflict_ids().size(), 1u);
  EXPECT_EQ(conflict_ids()[0], key(1));
}

TEST_F(BatchTest, UpdateManyAppliesWritesInOrder) {
  // The same id twice with the same expected version: the first lands, so the second
  // conflicts with it. With the first's new version, the second would chain.
  const std::vector<Write> writes{{key(5), recs_[5].version, Item{"first", 1}},
                                  {key(5), recs_[5].version, Item{"second", 2}}};
  const auto results = store_.update_many(writes);
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error(), vkv::Errc::conflict);
  EXPECT_EQ(results[1].error_info().actual, results[0].value().version);
  EXPECT_TRUE(same_record(*results[1].current(), results[0].value()));
  EXPECT_EQ(store_.find(key(5))->value, (Item{"first", 1}));
}

TEST_F(BatchTest, UpdateManyAllFailingChangesNothing) {
  std::vector<std::optional<Rec>> before;
  for (int i = 0; i < 10; ++i) before.push_back(store_.find(key(i)));
  std::vector<Write> writes;
  for (int i = 0; i < 10; ++i) writes.push_back({key(i), vkv::Version(), Item{"x", -1}});
  const auto results = store_.update_many(writes);
  ASSERT_EQ(results.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(results[i].ok());
    EXPECT_EQ(results[i].error(), vkv::Errc::conflict);
    EXPECT_EQ(results[i].error_info().entity_id, key(i));
    EXPECT_TRUE(same_record(*store_.find(key(i)), *before[i]));
  }
  EXPECT_EQ(conflict_ids().size(), 10u);
}

TEST_F(BatchTest, UpdateManyOfNothingIsEmpty) {
  const auto before = store_.stats();
  EXPECT_TRUE(store_.update_many(std::span<const Write>()).empty());
  const auto after = store_.stats();
  EXPECT_EQ(after.writes, before.writes);
  EXPECT_EQ(after.conflicts, before.conflicts);
}

TEST_F(BatchTest, UpdateManyKeepsSoftDeletedRecordsRefused) {
  // update_many has no WriteOptions: a soft-deleted record is not found, even with
  // its current version, and stays as it was.
  const Rec gone = store_.soft_delete(key(8), recs_[8].version);
  const std::vector<Write> writes{{key(8), gone.version, Item{"revived?", 0}}};
  const auto results = store_.update_many(writes);
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error(), vkv::Errc::not_found);
  EXPECT_TRUE(same_record(*store_.find(key(8), vkv::ReadOptions{true}), gone));
}

}  // namespace
