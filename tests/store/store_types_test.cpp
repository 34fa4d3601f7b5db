// Contract tests of the Store's type requirements (include/vkv/store.hpp, "Requirements";
// docs/guide.md): the store is not copyable; it works with std::string, integer and custom keys (a
// custom key needs a Hash and is rendered as text with operator<<); and with value types that are
// not default-constructible or not assignable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using ::testing::HasSubstr;
using vkv_contract::Customer;
using vkv_contract::customer_options;
using vkv_contract::same_record;

static_assert(!std::is_copy_constructible_v<vkv::Store<Customer>>);
static_assert(!std::is_copy_assignable_v<vkv::Store<Customer>>);
static_assert(
    std::is_same_v<vkv::Store<Customer>::record_type, vkv::Record<Customer, std::string>>);
static_assert(std::is_same_v<vkv::Store<Customer, int>::record_type, vkv::Record<Customer, int>>);

// ---------------------------------------------------------------- keys

TEST(StoreKeyTest, IntKeysWorkAndRenderWithToString) {
  std::string rendered;
  auto options = customer_options();
  options.on_conflict = [&](const vkv::ConflictEvent& e) { rendered = e.entity_id; };
  vkv::Store<Customer, int> store(options);
  auto v1 = store.create(123, Customer{"a", 1});
  auto v2 = store.update_with_version(123, v1.version, Customer{"a", 2});
  EXPECT_EQ(v2.id, 123);
  EXPECT_TRUE(same_record(*store.find(123), v2));
  EXPECT_FALSE(store.find(124).has_value());

  try {
    store.update_with_version(123, v1.version, Customer{});
    FAIL() << "expected a conflict";
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_EQ(e.entity_id(), "123");
    EXPECT_THAT(std::string(e.what()), HasSubstr("Customer 123"));
  }
  EXPECT_EQ(rendered, "123");
}

TEST(StoreKeyTest, UnsignedKeysRenderWithToString) {
  vkv::Store<Customer, std::uint64_t> store(customer_options());
  const std::uint64_t big = 18446744073709551615ull;
  store.create(big, Customer{"max", 1});
  try {
    store.create(big, Customer{"max", 2});
    FAIL() << "expected a duplicate";
  } catch (const vkv::DuplicateKeyError& e) {
    EXPECT_EQ(e.entity_id(), std::to_string(big));
  }
}

TEST(StoreKeyTest, StringKeysRenderAsIs) {
  vkv::Store<Customer> store(customer_options());
  // Spaces and punctuation pass through untouched (no quoting, no escaping).
  const std::string id = "cust 7/\"x\"";
  try {
    store.soft_delete(id, vkv::Version{});
    FAIL() << "expected not found";
  } catch (const vkv::EntityNotFoundError& e) {
    EXPECT_EQ(e.entity_id(), id);
    EXPECT_THAT(std::string(e.what()), HasSubstr("Customer " + id));
  }
}

// A composite key with no std::hash and no std::to_string: rendered with operator<<.
struct RegionKey {
  std::string region;
  int number = 0;
  friend bool operator==(const RegionKey&, const RegionKey&) = default;
  friend std::ostream& operator<<(std::ostream& os, const RegionKey& k) {
    return os << k.region << '#' << k.number;
  }
};

struct RegionKeyHash {
  std::size_t operator()(const RegionKey& k) const noexcept {
    return std::hash<std::string>{}(k.region) * 31 + std::hash<int>{}(k.number);
  }
};

TEST(StoreKeyTest, CustomKeyWithCustomHashRendersWithStreamOperator) {
  std::vector<std::string> rendered;
  auto options = customer_options();
  options.on_conflict = [&](const vkv::ConflictEvent& e) { rendered.push_back(e.entity_id); };
  vkv::Store<Customer, RegionKey, RegionKeyHash> store(options);

  const RegionKey eu{"eu", 7};
  const RegionKey us{"us", 7};
  auto e1 = store.create(eu, Customer{"eu", 1});
  auto u1 = store.create(us, Customer{"us", 1});
  EXPECT_NE(e1.version, u1.version);
  auto e2 = store.update_with_version(eu, e1.version, Customer{"eu", 2});
  EXPECT_EQ(e2.id, eu);
  EXPECT_TRUE(same_record(*store.find(eu), e2));
  EXPECT_TRUE(same_record(*store.find(us), u1));

  try {
    store.update_with_version(eu, e1.version, Customer{});
    FAIL() << "expected a conflict";
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_EQ(e.entity_id(), "eu#7");
    EXPECT_THAT(std::string(e.what()), HasSubstr("Customer eu#7"));
  }
  try {
    store.create(us, Customer{});
    FAIL() << "expected a duplicate";
  } catch (const vkv::DuplicateKeyError& e) {
    EXPECT_EQ(e.entity_id(), "us#7");
  }
  ASSERT_EQ(rendered.size(), 1u);
  EXPECT_EQ(rendered[0], "eu#7");
}

// A KeyEqual that is not operator==: case-insensitive ids, with a matching Hash.
struct CaseInsensitiveHash {
  std::size_t operator()(const std::string& s) const noexcept {
    std::string lower;
    for (char c : s)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return std::hash<std::string>{}(lower);
  }
};
struct CaseInsensitiveEqual {
  bool operator()(const std::string& a, const std::string& b) const noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) !=
          std::tolower(static_cast<unsigned char>(b[i]))) {
        return false;
      }
    }
    return true;
  }
};

TEST(StoreKeyTest, CustomKeyEqualIsUsedForLookups) {
  vkv::Store<Customer, std::string, CaseInsensitiveHash, CaseInsensitiveEqual> store;
  auto v1 = store.create("Ada", Customer{"Ada", 1});
  EXPECT_THROW(store.create("ADA", Customer{}), vkv::DuplicateKeyError);
  auto found = store.find("ada");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->version, v1.version);
  auto v2 = store.update_with_version("aDa", v1.version, Customer{"Ada", 2});
  EXPECT_EQ(v2.revision, 2u);
  EXPECT_EQ(store.size(), 1u);
}

// ---------------------------------------------------------------- values

// No default constructor and a const member (so not assignable either): the store must
// only ever copy- or move-construct values.
class Money {
 public:
  Money(std::string currency, std::int64_t cents) : currency_(std::move(currency)), cents_(cents) {}
  const std::string& currency() const { return currency_; }
  std::int64_t cents() const { return cents_; }
  void add(std::int64_t c) { cents_ += c; }
  friend bool operator==(const Money&, const Money&) = default;

 private:
  const std::string currency_;
  std::int64_t cents_;
};
static_assert(!std::is_default_constructible_v<Money>);
static_assert(!std::is_copy_assignable_v<Money>);
static_assert(!std::is_move_assignable_v<Money>);

TEST(StoreValueTest, NonDefaultConstructibleNonAssignableValue) {
  vkv::Store<Money> store;
  auto v1 = store.create("w", Money("EUR", 100));
  auto v2 = store.update_with_version("w", v1.version, Money("EUR", 250));
  auto v3 = store.patch_with_version("w", v2.version, [](Money& m) { m.add(50); });
  EXPECT_EQ(v3.value, Money("EUR", 300));
  auto v4 = store.soft_delete("w", v3.version);
  auto v5 = store.restore("w", v4.version);
  auto r = store.try_update_with_version("w", v1.version, Money("USD", 1));
  ASSERT_FALSE(r);
  ASSERT_TRUE(r.current());
  EXPECT_EQ(r.current()->value, Money("EUR", 300));
  auto found = store.find("w");
  ASSERT_TRUE(found);
  EXPECT_TRUE(same_record(*found, v5));
  int visits = 0;
  store.for_each([&](const vkv::Record<Money>& rec) {
    ++visits;
    EXPECT_EQ(rec.value.currency(), "EUR");
  });
  EXPECT_EQ(visits, 1);
  auto erased = store.try_erase("w", v5.version);
  ASSERT_TRUE(erased);
  EXPECT_EQ(erased.value().value, Money("EUR", 300));
}

// A value that records how it was handed over, to check that create/update take the
// value by value and move it in rather than copying it from the argument.
struct Payload {
  std::vector<int> data;
  std::shared_ptr<int> moves_from = std::make_shared<int>(0);
  Payload(std::vector<int> d) : data(std::move(d)) {}
  Payload(const Payload&) = default;
  Payload(Payload&& other) noexcept : data(std::move(other.data)), moves_from(other.moves_from) {
    ++*moves_from;
  }
  Payload& operator=(const Payload&) = default;
  Payload& operator=(Payload&&) = default;
};

TEST(StoreValueTest, CreateAndUpdateMoveTheirArgumentIn) {
  vkv::Store<Payload> store;
  Payload p({1, 2, 3});
  auto counter = p.moves_from;
  auto v1 = store.create("p", std::move(p));
  EXPECT_GE(*counter, 1) << "the by-value argument was moved at least once into the store";
  EXPECT_EQ(v1.value.data, (std::vector<int>{1, 2, 3}));

  Payload q({4, 5});
  auto counter_q = q.moves_from;
  auto v2 = store.update_with_version("p", v1.version, std::move(q));
  EXPECT_GE(*counter_q, 1);
  EXPECT_EQ(store.find("p")->value.data, (std::vector<int>{4, 5}));
  (void)v2;
}

// A move-only T can name a Store and use the members that never hand out a copy of a
// value. create/update/find cannot work with it: they return Record<T> by value, so the
// store would have to give away the only copy it holds (the contract, include/vkv/store.hpp, fixes
// those signatures).
TEST(StoreValueTest, MoveOnlyValueTypeCanInstantiateTheStore) {
  using MoveOnly = std::unique_ptr<int>;
  static_assert(!std::is_copy_constructible_v<MoveOnly>);
  vkv::Store<MoveOnly> store;
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.stats().creates, 0u);
}

TEST(StoreValueTest, StringValuesAndShardOption) {
  vkv::StoreOptions options;
  options.shards = 3;  // an odd shard count must be honoured or rounded, never break lookups
  vkv::Store<std::string, int> store(options);
  for (int i = 0; i < 100; ++i) store.create(i, "v" + std::to_string(i));
  EXPECT_EQ(store.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    auto r = store.find(i);
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->value, "v" + std::to_string(i));
  }
}

}  // namespace
