// Helpers shared by the Store contract tests (tests/*_test.cpp of the contract area):
// value types with the properties the contract must cope with, the options that include
// soft-deleted records, and the "failure leaves no trace" check (snapshot a record or
// the whole store, run a failing call, compare). A test says `using namespace
// vkv_contract;` and names them plainly.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>
#include <vkv/vkv.hpp>

namespace vkv_contract {

// A plain value: copyable, comparable, printable (gtest shows it in failures).
struct Customer {
  std::string name;
  std::int64_t credit = 0;

  friend bool operator==(const Customer&, const Customer&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Customer& c) {
    return os << "Customer{" << c.name << ", " << c.credit << "}";
  }
};

using CustomerStore = vkv::Store<Customer>;
using CustomerRecord = CustomerStore::record_type;

// The options that let a write or a read see soft-deleted records.
inline constexpr vkv::WriteOptions kIncludeDeleted{.include_soft_deleted = true};
inline constexpr vkv::ReadOptions kReadDeleted{.include_soft_deleted = true};

inline vkv::StoreOptions customer_options() {
  vkv::StoreOptions options;
  options.entity_type = "Customer";
  return options;
}

// Field-by-field equality of two records; Record has no operator== in the contract.
template <class T, class Key>
::testing::AssertionResult same_record(const vkv::Record<T, Key>& a, const vkv::Record<T, Key>& b) {
  if (a.id == b.id && a.value == b.value && a.version == b.version && a.revision == b.revision &&
      a.deleted == b.deleted) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "records differ: value " << ::testing::PrintToString(a.value) << " vs "
         << ::testing::PrintToString(b.value) << ", version " << a.version << " vs " << b.version
         << ", revision " << a.revision << " vs " << b.revision << ", deleted " << a.deleted
         << " vs " << b.deleted;
}

template <class T, class Key>
::testing::AssertionResult same_record(const std::optional<vkv::Record<T, Key>>& a,
                                       const std::optional<vkv::Record<T, Key>>& b) {
  if (a.has_value() != b.has_value()) {
    return ::testing::AssertionFailure()
           << "one record is absent: " << a.has_value() << " vs " << b.has_value();
  }
  if (!a) return ::testing::AssertionSuccess();
  return same_record(*a, *b);
}

// The record exactly as the store holds it, soft-deleted included.
template <class StoreT, class Key>
auto snapshot(const StoreT& store, const Key& id) {
  return store.find(id, vkv::ReadOptions{.include_soft_deleted = true});
}

// Every record of the store (soft-deleted included) plus size(), so a check can show
// that a failing call touched no record at all, not only the one it named.
template <class StoreT>
struct StoreSnapshot {
  using record_type = typename StoreT::record_type;
  std::vector<record_type> records;
  std::size_t size = 0;
};

template <class StoreT>
StoreSnapshot<StoreT> snapshot_all(const StoreT& store) {
  StoreSnapshot<StoreT> snap;
  store.for_each([&](const typename StoreT::record_type& r) { snap.records.push_back(r); },
                 vkv::ReadOptions{.include_soft_deleted = true});
  snap.size = store.size();
  return snap;
}

// Order-insensitive comparison (for_each order is unspecified); O(n^2) is fine for the
// handful of records these tests hold.
template <class StoreT>
::testing::AssertionResult same_store(const StoreSnapshot<StoreT>& before,
                                      const StoreSnapshot<StoreT>& after) {
  if (before.size != after.size) {
    return ::testing::AssertionFailure()
           << "size() changed: " << before.size << " -> " << after.size;
  }
  if (before.records.size() != after.records.size()) {
    return ::testing::AssertionFailure()
           << "record count changed: " << before.records.size() << " -> " << after.records.size();
  }
  for (const auto& b : before.records) {
    auto it = std::find_if(after.records.begin(), after.records.end(),
                           [&](const auto& a) { return a.id == b.id; });
    if (it == after.records.end()) {
      return ::testing::AssertionFailure() << "a record disappeared";
    }
    auto same = same_record(b, *it);
    if (!same) return same;
  }
  return ::testing::AssertionSuccess();
}

// Runs `failing_call` (which must throw or report an error itself; the caller asserts
// that) and checks that the whole store is exactly as it was before.
template <class StoreT, class F>
::testing::AssertionResult leaves_no_trace(const StoreT& store, F&& failing_call) {
  auto before = snapshot_all(store);
  std::forward<F>(failing_call)();
  return same_store(before, snapshot_all(store));
}

}  // namespace vkv_contract
