// Contract tests of the error types (include/vkv/errors.hpp): the hierarchy, code(),
// entity_type(), entity_id(), OptimisticLockError's versions, and what() naming the
// entity type and id. Errors are obtained from a real store: the contract fixes how
// users receive them, not how they are constructed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <type_traits>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using ::testing::HasSubstr;
using vkv_contract::Customer;
using vkv_contract::customer_options;
using vkv_contract::CustomerStore;

static_assert(std::is_base_of_v<std::runtime_error, vkv::Error>);
static_assert(std::is_base_of_v<vkv::Error, vkv::OptimisticLockError>);
static_assert(std::is_base_of_v<vkv::Error, vkv::EntityNotFoundError>);
static_assert(std::is_base_of_v<vkv::Error, vkv::DuplicateKeyError>);
static_assert(static_cast<int>(vkv::Errc::not_found) == 1);
static_assert(static_cast<int>(vkv::Errc::conflict) == 2);
static_assert(static_cast<int>(vkv::Errc::duplicate_key) == 3);
static_assert(static_cast<int>(vkv::Errc::unavailable) == 4);
static_assert(static_cast<int>(vkv::Errc::unknown_outcome) == 5);
static_assert(std::is_base_of_v<vkv::Error, vkv::UnavailableError>);
static_assert(std::is_base_of_v<vkv::Error, vkv::UnknownOutcomeError>);

// Calls f, which must throw E, and returns a copy of the exception.
template <class E, class F>
E capture(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  ADD_FAILURE() << "expected an exception";
  throw std::logic_error("no exception");
}

TEST(ErrorsTest, OptimisticLockErrorNamesTypeIdAndBothVersions) {
  CustomerStore store(customer_options());
  auto v1 = store.create("cust-123", Customer{"Ada", 10});
  auto v2 = store.update_with_version("cust-123", v1.version, Customer{"Ada", 20});

  auto e = capture<vkv::OptimisticLockError>([&] {
    store.update_with_version("cust-123", v1.version, Customer{"Bob", 0});
  });
  EXPECT_EQ(e.code(), vkv::Errc::conflict);
  EXPECT_EQ(e.entity_type(), "Customer");
  EXPECT_EQ(e.entity_id(), "cust-123");
  EXPECT_EQ(e.expected_version(), v1.version);
  EXPECT_EQ(e.actual_version(), v2.version) << "actual is the version that won";
  std::string what = e.what();
  EXPECT_THAT(what, HasSubstr("Customer cust-123"));
  EXPECT_THAT(what, HasSubstr(v1.version.to_string()));
  EXPECT_THAT(what, HasSubstr(v2.version.to_string()));
  // The expected version comes before the one found, as in the contract's example.
  EXPECT_LT(what.find(v1.version.to_string()), what.find(v2.version.to_string())) << what;
}

TEST(ErrorsTest, OptimisticLockErrorIsCatchableAsErrorAndRuntimeError) {
  CustomerStore store(customer_options());
  auto r = store.create("c", Customer{"c", 1});
  store.update_with_version("c", r.version, Customer{"c", 2});
  try {
    store.update_with_version("c", r.version, Customer{"c", 3});
    FAIL() << "no exception";
  } catch (const vkv::Error& e) {
    EXPECT_EQ(e.code(), vkv::Errc::conflict);
    EXPECT_NE(dynamic_cast<const vkv::OptimisticLockError*>(&e), nullptr);
  }
  EXPECT_THROW(store.update_with_version("c", r.version, Customer{"c", 3}), std::runtime_error);
}

TEST(ErrorsTest, EntityNotFoundErrorNamesTypeAndId) {
  CustomerStore store(customer_options());
  auto e = capture<vkv::EntityNotFoundError>([&] {
    store.update_with_version("cust-404", vkv::Version{}, Customer{"x", 0});
  });
  EXPECT_EQ(e.code(), vkv::Errc::not_found);
  EXPECT_EQ(e.entity_type(), "Customer");
  EXPECT_EQ(e.entity_id(), "cust-404");
  EXPECT_THAT(std::string(e.what()), HasSubstr("Customer cust-404"));
}

TEST(ErrorsTest, DuplicateKeyErrorNamesTypeAndId) {
  CustomerStore store(customer_options());
  store.create("cust-1", Customer{"a", 1});
  auto e = capture<vkv::DuplicateKeyError>([&] { store.create("cust-1", Customer{"b", 2}); });
  EXPECT_EQ(e.code(), vkv::Errc::duplicate_key);
  EXPECT_EQ(e.entity_type(), "Customer");
  EXPECT_EQ(e.entity_id(), "cust-1");
  EXPECT_THAT(std::string(e.what()), HasSubstr("Customer cust-1"));
}

TEST(ErrorsTest, DefaultEntityTypeIsRecord) {
  CustomerStore store;
  auto e = capture<vkv::EntityNotFoundError>([&] { store.soft_delete("missing", vkv::Version{}); });
  EXPECT_EQ(e.entity_type(), "Record");
  EXPECT_THAT(std::string(e.what()), HasSubstr("Record missing"));
}

TEST(ErrorsTest, EveryWriteKindNamesTheEntityInItsErrors) {
  CustomerStore store(customer_options());
  auto r = store.create("k", Customer{"k", 1});
  auto r2 = store.update_with_version("k", r.version, Customer{"k", 2});
  auto check = [&](const vkv::Error& e, vkv::Errc code) {
    EXPECT_EQ(e.code(), code);
    EXPECT_EQ(e.entity_type(), "Customer");
    EXPECT_EQ(e.entity_id(), "k");
    EXPECT_THAT(std::string(e.what()), HasSubstr("Customer k"));
  };
  check(capture<vkv::OptimisticLockError>(
            [&] { store.patch_with_version("k", r.version, [](Customer&) {}); }),
        vkv::Errc::conflict);
  check(capture<vkv::OptimisticLockError>([&] { store.soft_delete("k", r.version); }),
        vkv::Errc::conflict);
  check(capture<vkv::OptimisticLockError>([&] { store.erase("k", r.version); }),
        vkv::Errc::conflict);
  check(capture<vkv::EntityNotFoundError>([&] { store.restore("k", r2.version); }),
        vkv::Errc::not_found);
  auto deleted = store.soft_delete("k", r2.version);
  check(capture<vkv::OptimisticLockError>([&] { store.restore("k", r2.version); }),
        vkv::Errc::conflict);
  check(capture<vkv::EntityNotFoundError>([&] { store.soft_delete("k", deleted.version); }),
        vkv::Errc::not_found);
}

TEST(ErrorsTest, IntKeysAreRenderedWithToString) {
  vkv::Store<Customer, int> store(customer_options());
  store.create(-42, Customer{"neg", 1});
  auto e = capture<vkv::DuplicateKeyError>([&] { store.create(-42, Customer{"neg", 2}); });
  EXPECT_EQ(e.entity_id(), std::to_string(-42));
  EXPECT_THAT(std::string(e.what()), HasSubstr("Customer -42"));
}

}  // namespace

// The remote-store errors (vkv::redis) come through throw_error like the others, with
// their reason in what().
TEST(ErrorsTest, RemoteStoreErrorsCarryTheirCodeAndReason) {
  vkv::ErrorInfo info;
  info.code = vkv::Errc::unavailable;
  info.entity_type = "Customer";
  info.entity_id = "c-1";
  info.reason = "connection refused by 127.0.0.1:1";
  auto unavailable = capture<vkv::UnavailableError>([&] { vkv::throw_error(info); });
  EXPECT_EQ(unavailable.code(), vkv::Errc::unavailable);
  EXPECT_EQ(unavailable.entity_id(), "c-1");
  EXPECT_THAT(std::string(unavailable.what()),
              HasSubstr("Customer c-1: connection refused by 127.0.0.1:1"));
  info.code = vkv::Errc::unknown_outcome;
  info.reason.clear();
  auto unknown = capture<vkv::UnknownOutcomeError>([&] { vkv::throw_error(info); });
  EXPECT_EQ(unknown.code(), vkv::Errc::unknown_outcome);
  EXPECT_THAT(std::string(unknown.what()), HasSubstr("Customer c-1: outcome unknown"));
  EXPECT_STREQ(vkv::errc_name(vkv::Errc::unavailable), "unavailable");
  EXPECT_STREQ(vkv::errc_name(vkv::Errc::unknown_outcome), "unknown_outcome");
}
