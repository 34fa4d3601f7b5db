// Contract tests of the Store's non-throwing twins (include/vkv/store.hpp): every try_* call
// reports its outcome as a Result with the right Errc, never as an exception; value()
// then throws the matching Error subtype; on a conflict current() is the record as it
// is now; try_erase's value() is the erased record; failures leave no trace.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using namespace vkv_contract;  // tests/support/contract.hpp

class StoreTryTest : public ::testing::Test {
 protected:
  CustomerStore store{customer_options()};
  CustomerRecord v1{}, v2{};  // "a": v1 is stale, v2 current
  CustomerRecord d{};         // "d": soft-deleted

  void SetUp() override {
    v1 = store.create("a", Customer{"Ada", 1});
    v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2});
    auto d1 = store.create("d", Customer{"Del", 1});
    d = store.soft_delete("d", d1.version);
  }

  // Checks a failed Result: its code, that value() throws the matching subtype, that
  // current() is as the contract says, and that the failed call changed nothing.
  template <class F>
  void expect_failure(F&& call, vkv::Errc code) {
    std::optional<vkv::Result<CustomerRecord>> result;
    EXPECT_TRUE(leaves_no_trace(store, [&] { EXPECT_NO_THROW(result.emplace(call())); }));
    ASSERT_TRUE(result.has_value());
    ASSERT_FALSE(result->ok());
    EXPECT_EQ(result->error(), code);
    switch (code) {
      case vkv::Errc::conflict:
        EXPECT_THROW((void)result->value(), vkv::OptimisticLockError);
        break;
      case vkv::Errc::not_found:
        EXPECT_THROW((void)result->value(), vkv::EntityNotFoundError);
        break;
      case vkv::Errc::duplicate_key:
        EXPECT_THROW((void)result->value(), vkv::DuplicateKeyError);
        break;
      case vkv::Errc::unavailable:
      case vkv::Errc::unknown_outcome:
        ADD_FAILURE() << "an in-process store never reports " << vkv::errc_name(code);
        break;
    }
    if (code == vkv::Errc::conflict) {
      ASSERT_TRUE(result->current().has_value()) << "a conflict carries the current record";
      auto now = snapshot(store, result->current()->id);
      ASSERT_TRUE(now.has_value());
      EXPECT_TRUE(same_record(*result->current(), *now));
    }
  }
};

TEST_F(StoreTryTest, TryCreate) {
  auto r = store.try_create("b", Customer{"Bob", 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().revision, 1u);
  EXPECT_TRUE(same_record(*store.find("b"), r.value()));
  expect_failure([&] { return store.try_create("a", Customer{"X", 0}); }, vkv::Errc::duplicate_key);
  expect_failure([&] { return store.try_create("d", Customer{"X", 0}); }, vkv::Errc::duplicate_key);
}

TEST_F(StoreTryTest, TryUpdateWithVersion) {
  expect_failure([&] { return store.try_update_with_version("a", v1.version, Customer{}); },
                 vkv::Errc::conflict);
  expect_failure([&] { return store.try_update_with_version("zz", v2.version, Customer{}); },
                 vkv::Errc::not_found);
  expect_failure([&] { return store.try_update_with_version("d", d.version, Customer{}); },
                 vkv::Errc::not_found);
  expect_failure(
      [&] { return store.try_update_with_version("d", v1.version, Customer{}, kIncludeDeleted); },
      vkv::Errc::conflict);

  auto ok = store.try_update_with_version("a", v2.version, Customer{"Ada", 3});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value().revision, 3u);
  EXPECT_TRUE(same_record(*store.find("a"), ok.value()));

  auto ok_deleted =
      store.try_update_with_version("d", d.version, Customer{"Del", 9}, kIncludeDeleted);
  ASSERT_TRUE(ok_deleted);
  EXPECT_TRUE(ok_deleted.value().deleted);
}

TEST_F(StoreTryTest, ConflictCurrentIsTheRecordAsItIsNowSoARetryNeedsNoRead) {
  auto r = store.try_update_with_version("a", v1.version, Customer{"Retry", 0});
  ASSERT_EQ(r.error(), vkv::Errc::conflict);
  ASSERT_TRUE(r.current());
  EXPECT_TRUE(same_record(*r.current(), v2));
  auto retried = store.try_update_with_version("a", r.current()->version, Customer{"Retry", 0});
  ASSERT_TRUE(retried);
  EXPECT_EQ(retried.value().revision, v2.revision + 1);
}

TEST_F(StoreTryTest, TryPatchWithVersion) {
  int calls = 0;
  auto mutate = [&](Customer& c) {
    ++calls;
    c.credit *= 10;
  };
  expect_failure([&] { return store.try_patch_with_version("a", v1.version, mutate); },
                 vkv::Errc::conflict);
  expect_failure([&] { return store.try_patch_with_version("zz", v2.version, mutate); },
                 vkv::Errc::not_found);
  expect_failure([&] { return store.try_patch_with_version("d", d.version, mutate); },
                 vkv::Errc::not_found);
  EXPECT_EQ(calls, 0) << "mutate is not called when the write cannot happen";

  auto ok = store.try_patch_with_version("a", v2.version, mutate);
  ASSERT_TRUE(ok);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ok.value().value.credit, 20);

  auto ok_deleted = store.try_patch_with_version("d", d.version, mutate, kIncludeDeleted);
  ASSERT_TRUE(ok_deleted);
  EXPECT_TRUE(ok_deleted.value().deleted);
  EXPECT_EQ(ok_deleted.value().value.credit, 10);
}

TEST_F(StoreTryTest, TryPatchPropagatesWhatMutateThrowsAndChangesNothing) {
  struct Boom {};
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW((void)store.try_patch_with_version("a", v2.version,
                                                    [](Customer& c) {
                                                      c.credit = -5;
                                                      throw Boom{};
                                                    }),
                 Boom);
  }));
}

TEST_F(StoreTryTest, TrySoftDeleteAndTryRestore) {
  expect_failure([&] { return store.try_soft_delete("a", v1.version); }, vkv::Errc::conflict);
  expect_failure([&] { return store.try_soft_delete("d", d.version); }, vkv::Errc::not_found);
  expect_failure([&] { return store.try_soft_delete("zz", d.version); }, vkv::Errc::not_found);
  expect_failure([&] { return store.try_restore("a", v2.version); }, vkv::Errc::not_found);
  expect_failure([&] { return store.try_restore("zz", v2.version); }, vkv::Errc::not_found);
  expect_failure([&] { return store.try_restore("d", v1.version); }, vkv::Errc::conflict);

  auto deleted = store.try_soft_delete("a", v2.version);
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(deleted.value().deleted);
  EXPECT_EQ(deleted.value().revision, 3u);
  auto restored = store.try_restore("a", deleted.value().version);
  ASSERT_TRUE(restored);
  EXPECT_FALSE(restored.value().deleted);
  EXPECT_EQ(restored.value().revision, 4u);
  EXPECT_TRUE(same_record(*store.find("a"), restored.value()));
}

TEST_F(StoreTryTest, TryEraseReturnsTheErasedRecord) {
  expect_failure([&] { return store.try_erase("a", v1.version); }, vkv::Errc::conflict);
  expect_failure([&] { return store.try_erase("zz", v1.version); }, vkv::Errc::not_found);

  auto erased = store.try_erase("a", v2.version);
  ASSERT_TRUE(erased);
  EXPECT_TRUE(same_record(erased.value(), v2)) << "value() is the record as it was erased";
  EXPECT_FALSE(store.find("a", kReadDeleted).has_value());

  auto purged = store.try_erase("d", d.version);
  ASSERT_TRUE(purged);
  EXPECT_TRUE(same_record(purged.value(), d));
  EXPECT_TRUE(purged.value().deleted);
  EXPECT_FALSE(store.find("d", kReadDeleted).has_value());
}

TEST_F(StoreTryTest, TryCallsNeverThrowTheStoreErrors) {
  EXPECT_NO_THROW({
    (void)store.try_create("a", Customer{});
    (void)store.try_update_with_version("a", v1.version, Customer{});
    (void)store.try_update_with_version("zz", v1.version, Customer{});
    (void)store.try_patch_with_version("a", v1.version, [](Customer&) {});
    (void)store.try_soft_delete("d", d.version);
    (void)store.try_restore("a", v2.version);
    (void)store.try_erase("zz", v2.version);
  });
}

}  // namespace
