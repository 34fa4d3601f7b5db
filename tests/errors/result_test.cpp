// Contract tests of vkv::Result (include/vkv/result.hpp) through the store's try_* twins:
// ok()/operator bool, error(), the three value() overloads (throwing the matching Error
// subtype when !ok()), and current() holding the record as it is now on a conflict.
#include <gtest/gtest.h>

#include <type_traits>
#include <utility>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using namespace vkv_contract;  // tests/support/contract.hpp
using Res = vkv::Result<CustomerRecord>;

static_assert(!std::is_convertible_v<Res, bool>, "operator bool is explicit");
static_assert(std::is_constructible_v<bool, Res>);
static_assert(std::is_same_v<decltype(std::declval<Res&>().value()), CustomerRecord&>);
static_assert(std::is_same_v<decltype(std::declval<const Res&>().value()), const CustomerRecord&>);
static_assert(std::is_same_v<decltype(std::declval<Res&&>().value()), CustomerRecord&&>);
static_assert(std::is_same_v<decltype(std::declval<const Res&>().current()),
                             const std::optional<CustomerRecord>&>);
static_assert(noexcept(std::declval<const Res&>().ok()));
static_assert(noexcept(std::declval<const Res&>().current()));

TEST(ResultTest, OkResultGivesTheRecordThroughEveryOverload) {
  CustomerStore store(customer_options());
  Res r = store.try_create("a", Customer{"Ada", 1});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value().value, (Customer{"Ada", 1}));
  const Res& cr = r;
  EXPECT_EQ(cr.value().revision, 1u);
  CustomerRecord moved = std::move(r).value();
  EXPECT_EQ(moved.id, "a");
  EXPECT_TRUE(same_record(moved, *store.find("a")));
}

TEST(ResultTest, ValueIsMutableThroughLvalueOverload) {
  CustomerStore store;
  Res r = store.try_create("a", Customer{"Ada", 1});
  ASSERT_TRUE(r);
  r.value().value.credit = 99;
  EXPECT_EQ(r.value().value.credit, 99);
  EXPECT_EQ(store.find("a")->value.credit, 1) << "the Result holds a copy";
}

TEST(ResultTest, ConflictResultThrowsOptimisticLockErrorAndHoldsCurrent) {
  CustomerStore store(customer_options());
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2});

  Res r = store.try_update_with_version("a", v1.version, Customer{"Bob", 3});
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.error(), vkv::Errc::conflict);
  ASSERT_TRUE(r.current().has_value());
  EXPECT_TRUE(same_record(*r.current(), v2));

  try {
    (void)r.value();
    FAIL() << "value() of a conflict must throw";
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::conflict);
    EXPECT_EQ(e.entity_type(), "Customer");
    EXPECT_EQ(e.entity_id(), "a");
    EXPECT_EQ(e.expected_version(), v1.version);
    EXPECT_EQ(e.actual_version(), v2.version);
  }
  const Res& cr = r;
  EXPECT_THROW((void)cr.value(), vkv::OptimisticLockError);
  EXPECT_THROW((void)std::move(r).value(), vkv::OptimisticLockError);
}

TEST(ResultTest, NotFoundResultThrowsEntityNotFoundError) {
  CustomerStore store(customer_options());
  Res r = store.try_update_with_version("nope", vkv::Version{}, Customer{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), vkv::Errc::not_found);
  EXPECT_FALSE(r.current().has_value()) << "nothing exists to report as current";
  try {
    (void)r.value();
    FAIL() << "value() of a not-found must throw";
  } catch (const vkv::EntityNotFoundError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::not_found);
    EXPECT_EQ(e.entity_type(), "Customer");
    EXPECT_EQ(e.entity_id(), "nope");
  }
  const Res& cr = r;
  EXPECT_THROW((void)cr.value(), vkv::EntityNotFoundError);
  EXPECT_THROW((void)std::move(r).value(), vkv::EntityNotFoundError);
}

TEST(ResultTest, DuplicateResultThrowsDuplicateKeyError) {
  CustomerStore store(customer_options());
  store.create("a", Customer{"Ada", 1});
  Res r = store.try_create("a", Customer{"Bob", 2});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), vkv::Errc::duplicate_key);
  try {
    (void)r.value();
    FAIL() << "value() of a duplicate must throw";
  } catch (const vkv::DuplicateKeyError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::duplicate_key);
    EXPECT_EQ(e.entity_type(), "Customer");
    EXPECT_EQ(e.entity_id(), "a");
  }
  EXPECT_THROW((void)std::move(r).value(), vkv::DuplicateKeyError);
}

TEST(ResultTest, IsCopyableAndMovable) {
  CustomerStore store;
  auto v1 = store.create("a", Customer{"Ada", 1});
  store.update_with_version("a", v1.version, Customer{"Ada", 2});
  Res conflict = store.try_update_with_version("a", v1.version, Customer{"Bob", 3});
  Res copy = conflict;
  EXPECT_EQ(copy.error(), vkv::Errc::conflict);
  ASSERT_TRUE(copy.current().has_value());
  EXPECT_TRUE(same_record(*copy.current(), *conflict.current()));
  Res moved = std::move(copy);
  EXPECT_EQ(moved.error(), vkv::Errc::conflict);
  EXPECT_THROW((void)moved.value(), vkv::OptimisticLockError);
}

}  // namespace
