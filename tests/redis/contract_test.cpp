// The Store contract (include/vkv/store.hpp), run unchanged over vkv::Store and over
// vkv::redis::Store on a real redis-server and on a real Redis Cluster: single-record
// operations, their try_* twins, errors and the conflict callback.
// Batches, commits, retries and stats: contract_batch_test.cpp.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "redis/contract_fixture.hpp"

namespace vkv_test::redis {
namespace {

TYPED_TEST_SUITE(StoreContract, Backends, BackendNames);

TYPED_TEST(StoreContract, CreateFindVisit) {
  auto& s = this->store();
  const auto created = s.create("c1", "alice");
  EXPECT_EQ(created.id, "c1");
  EXPECT_EQ(created.value, "alice");
  EXPECT_EQ(created.revision, 1u);
  EXPECT_FALSE(created.deleted);
  EXPECT_FALSE(created.version.is_nil());
  const auto found = s.find("c1");
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(same_record(*found, created));
  int calls = 0;
  EXPECT_TRUE(s.visit("c1", [&](const auto& view) {
    ++calls;
    EXPECT_EQ(view.id, "c1");
    EXPECT_EQ(view.value, "alice");
    EXPECT_EQ(view.version, created.version);
    EXPECT_EQ(view.revision, 1u);
    EXPECT_FALSE(view.deleted);
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(s.find("absent").has_value());
  EXPECT_FALSE(s.visit("absent", [&](const auto&) { ++calls; }));
  EXPECT_EQ(calls, 1);
  // Values travel byte for byte: empty, binary, large.
  const std::string binary("a\0b\r\n\xff", 6);
  EXPECT_EQ(s.create("bin", binary).value, binary);
  EXPECT_EQ(s.find("bin")->value, binary);
  EXPECT_EQ(s.create("empty", "").value, "");
  EXPECT_EQ(s.find("empty")->value, "");
  const std::string big(100000, 'x');
  s.create("big", big);
  EXPECT_EQ(s.find("big")->value, big);
}

TYPED_TEST(StoreContract, CreateOfAnExistingIdIsADuplicateAndChangesNothing) {
  auto& s = this->store();
  const auto first = s.create("c1", "alice");
  try {
    s.create("c1", "mallory");
    ADD_FAILURE() << "no DuplicateKeyError";
  } catch (const vkv::DuplicateKeyError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::duplicate_key);
    EXPECT_TRUE(names_key(e, this->entity(), "c1"));
  }
  auto r = s.try_create("c1", "mallory");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), vkv::Errc::duplicate_key);
  EXPECT_THROW(r.value(), vkv::DuplicateKeyError);
  EXPECT_TRUE(same_record(*s.find("c1"), first));
}

TYPED_TEST(StoreContract, UpdateWithVersionChecksTheVersion) {
  auto& s = this->store();
  const auto v1 = s.create("c1", "alice");
  const auto v2 = s.update_with_version("c1", v1.version, "alice2");
  EXPECT_EQ(v2.value, "alice2");
  EXPECT_EQ(v2.revision, 2u);
  EXPECT_NE(v2.version, v1.version);
  EXPECT_TRUE(same_record(*s.find("c1"), v2));
  try {
    s.update_with_version("c1", v1.version, "stale");
    ADD_FAILURE() << "no OptimisticLockError";
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::conflict);
    EXPECT_TRUE(names_key(e, this->entity(), "c1"));
    EXPECT_EQ(e.expected_version(), v1.version);
    EXPECT_EQ(e.actual_version(), v2.version);
  }
  EXPECT_TRUE(same_record(*s.find("c1"), v2));
  try {
    s.update_with_version("nobody", v1.version, "x");
    ADD_FAILURE() << "no EntityNotFoundError";
  } catch (const vkv::EntityNotFoundError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::not_found);
    EXPECT_TRUE(names_key(e, this->entity(), "nobody"));
  }
  EXPECT_FALSE(s.find("nobody").has_value());
  // The transform overload returns what the transform makes of the committed record.
  const auto size = s.update_with_version("c1", v2.version, "abc", vkv::WriteOptions{},
                                          [](const auto& rec) { return rec.value.size() * 10; });
  EXPECT_EQ(size, 30u);
  EXPECT_EQ(s.find("c1")->revision, 3u);
}

TYPED_TEST(StoreContract, TryUpdateReportsTheCurrentRecordOnConflict) {
  auto& s = this->store();
  const auto v1 = s.create("c1", "alice");
  const auto v2 = s.update_with_version("c1", v1.version, "bob");
  auto r = s.try_update_with_version("c1", v1.version, "stale");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.error(), vkv::Errc::conflict);
  ASSERT_TRUE(r.current().has_value());
  EXPECT_TRUE(same_record(*r.current(), v2));
  EXPECT_THROW(r.value(), vkv::OptimisticLockError);
  // Retrying from current() needs no extra read.
  auto again = s.try_update_with_version("c1", r.current()->version, "carol");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().value, "carol");
  EXPECT_EQ(again.value().revision, 3u);
  auto missing = s.try_update_with_version("nobody", v1.version, "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), vkv::Errc::not_found);
  EXPECT_FALSE(missing.current().has_value());
  EXPECT_THROW(missing.value(), vkv::EntityNotFoundError);
}

TYPED_TEST(StoreContract, PatchMutatesACopyOnlyWhenTheVersionMatches) {
  auto& s = this->store();
  const auto v1 = s.create("c1", "alice");
  const auto v2 = s.patch_with_version("c1", v1.version, [](std::string& v) { v += "!"; });
  EXPECT_EQ(v2.value, "alice!");
  EXPECT_EQ(v2.revision, 2u);
  int calls = 0;
  EXPECT_THROW(s.patch_with_version("c1", v1.version, [&](std::string&) { ++calls; }),
               vkv::OptimisticLockError);
  EXPECT_EQ(calls, 0);
  // A throwing mutate changes nothing and its exception reaches the caller.
  EXPECT_THROW(s.patch_with_version("c1", v2.version,
                                    [](std::string& v) {
                                      v = "half-done";
                                      throw std::domain_error("mutate failed");
                                    }),
               std::domain_error);
  EXPECT_TRUE(same_record(*s.find("c1"), v2));
  auto r = s.try_patch_with_version("c1", v1.version, [](std::string& v) { v = "x"; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), vkv::Errc::conflict);
  ASSERT_TRUE(r.current().has_value());
  EXPECT_TRUE(same_record(*r.current(), v2));
  auto ok = s.try_patch_with_version("c1", v2.version, [](std::string& v) { v = "y"; });
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().value, "y");
}

TYPED_TEST(StoreContract, SoftDeleteAndRestore) {
  auto& s = this->store();
  const auto v1 = s.create("c1", "alice");
  const auto deleted = s.soft_delete("c1", v1.version);
  EXPECT_TRUE(deleted.deleted);
  EXPECT_EQ(deleted.revision, 2u);
  EXPECT_EQ(deleted.value, "alice");
  EXPECT_NE(deleted.version, v1.version);
  EXPECT_FALSE(s.find("c1").has_value());
  EXPECT_FALSE(s.visit("c1", [](const auto&) {}));
  const auto hidden = s.find("c1", vkv::ReadOptions{.include_soft_deleted = true});
  ASSERT_TRUE(hidden.has_value());
  EXPECT_TRUE(same_record(*hidden, deleted));
  // Already soft-deleted: not found; a write without include_soft_deleted: not found.
  try {
    s.soft_delete("c1", deleted.version);
    ADD_FAILURE() << "no EntityNotFoundError";
  } catch (const vkv::EntityNotFoundError& e) {
    EXPECT_TRUE(names_key(e, this->entity(), "c1"));
  }
  EXPECT_THROW(s.update_with_version("c1", deleted.version, "x"), vkv::EntityNotFoundError);
  EXPECT_THROW(s.create("c1", "again"), vkv::DuplicateKeyError);
  // Updated with include_soft_deleted, it stays deleted.
  const auto updated = s.update_with_version("c1", deleted.version, "while-deleted",
                                             vkv::WriteOptions{.include_soft_deleted = true});
  EXPECT_TRUE(updated.deleted);
  EXPECT_EQ(updated.revision, 3u);
  EXPECT_FALSE(s.find("c1").has_value());
  auto stale_restore = s.try_restore("c1", deleted.version);
  ASSERT_FALSE(stale_restore.ok());
  EXPECT_EQ(stale_restore.error(), vkv::Errc::conflict);
  const auto restored = s.restore("c1", updated.version);
  EXPECT_FALSE(restored.deleted);
  EXPECT_EQ(restored.value, "while-deleted");
  EXPECT_EQ(restored.revision, 4u);
  EXPECT_TRUE(same_record(*s.find("c1"), restored));
  EXPECT_THROW(s.restore("c1", restored.version), vkv::EntityNotFoundError);
  auto r = s.try_soft_delete("c1", v1.version);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), vkv::Errc::conflict);
  auto missing = s.try_soft_delete("nobody", v1.version);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), vkv::Errc::not_found);
}

TYPED_TEST(StoreContract, EraseIsVersionCheckedAndTheIdComesBackFresh) {
  auto& s = this->store();
  const auto v1 = s.create("c1", "alice");
  const auto v2 = s.update_with_version("c1", v1.version, "bob");
  EXPECT_THROW(s.erase("c1", v1.version), vkv::OptimisticLockError);
  EXPECT_TRUE(same_record(*s.find("c1"), v2));
  auto stale = s.try_erase("c1", v1.version);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error(), vkv::Errc::conflict);
  ASSERT_TRUE(stale.current().has_value());
  EXPECT_TRUE(same_record(*stale.current(), v2));
  auto erased = s.try_erase("c1", v2.version);
  ASSERT_TRUE(erased.ok());
  EXPECT_TRUE(same_record(erased.value(), v2));
  EXPECT_FALSE(s.find("c1", vkv::ReadOptions{.include_soft_deleted = true}).has_value());
  EXPECT_THROW(s.erase("c1", v2.version), vkv::EntityNotFoundError);
  const auto again = s.create("c1", "carol");
  EXPECT_EQ(again.revision, 1u);
  EXPECT_NE(again.version, v1.version);
  EXPECT_NE(again.version, v2.version);
  // A soft-deleted record may be purged.
  const auto deleted = s.soft_delete("c1", again.version);
  s.erase("c1", deleted.version);
  EXPECT_FALSE(s.find("c1", vkv::ReadOptions{.include_soft_deleted = true}).has_value());
}

TYPED_TEST(StoreContract, OnConflictIsCalledOncePerFailedCheck) {
  auto& s = this->store();
  const auto v1 = s.create("c1", "alice");
  const auto v2 = s.update_with_version("c1", v1.version, "bob");
  EXPECT_TRUE(this->conflicts().empty());
  EXPECT_FALSE(s.try_update_with_version("c1", v1.version, "x").ok());
  EXPECT_THROW(s.erase("c1", v1.version), vkv::OptimisticLockError);
  const auto seen = this->conflicts();
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& c : seen) {
    EXPECT_EQ(c.entity_type, this->entity());
    EXPECT_EQ(c.entity_id, "c1");
    EXPECT_EQ(c.expected, v1.version);
    EXPECT_EQ(c.actual, v2.version);
  }
  // Not found is not a conflict.
  EXPECT_FALSE(s.try_update_with_version("nobody", v1.version, "x").ok());
  EXPECT_EQ(this->conflicts().size(), 2u);
}

}  // namespace
}  // namespace vkv_test::redis
