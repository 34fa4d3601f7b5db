// Contract tests of the atomic multi-record commit (include/vkv/store.hpp, docs/commits.md; "Atomic
// multi-record commit"): Store::commit / try_commit of a vkv::Transaction, single-threaded and
// exact. Every sentence of the contract has a test here; the concurrent half lives in
// tests/commit/transaction_stress_test.cpp and tests/commit/tx_lin_test.cpp.
//
// This binary replaces the global operator new/delete with a counting version that,
// while armed on the calling thread, throws std::bad_alloc on the Nth allocation, so
// that a commit can be failed at each of its allocations in turn.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"
// This TU owns the binary's replacement operator new/delete (allocation failures
// injected at the Nth allocation of the arming thread).
#include "support/failing_allocator.hpp"

using vkv_test::injected::FailNthAllocation;

namespace {

// ---- the value type: counts live instances; its copy constructor can be made to throw ----

struct CopyFailure : std::runtime_error {
  CopyFailure() : std::runtime_error("Account copy failed (injected)") {}
};

constinit thread_local bool copy_armed = false;
constinit thread_local std::int64_t copy_countdown = 0;
constinit thread_local bool copy_fired = false;

class Account {
 public:
  Account() : Account("", 0) {}
  Account(std::string owner, std::int64_t balance) : owner(std::move(owner)), balance(balance) {
    // relaxed: a counter read only after the single test thread's work is done.
    live_.fetch_add(1, std::memory_order_relaxed);
  }
  Account(const Account& other) : owner(other.owner), balance(other.balance) {
    if (copy_armed && --copy_countdown <= 0) {
      copy_armed = false;
      copy_fired = true;
      throw CopyFailure();
    }
    live_.fetch_add(1, std::memory_order_relaxed);  // relaxed: see above
  }
  Account(Account&& other) noexcept : owner(std::move(other.owner)), balance(other.balance) {
    live_.fetch_add(1, std::memory_order_relaxed);  // relaxed: see above
  }
  Account& operator=(const Account&) = default;
  Account& operator=(Account&&) noexcept = default;
  ~Account() { live_.fetch_sub(1, std::memory_order_relaxed); }  // relaxed: see above

  static std::int64_t live() { return live_.load(std::memory_order_relaxed); }

  friend bool operator==(const Account& a, const Account& b) {
    return a.owner == b.owner && a.balance == b.balance;
  }
  friend std::ostream& operator<<(std::ostream& os, const Account& a) {
    return os << "Account{" << a.owner << ", " << a.balance << "}";
  }

  std::string owner;  // long owners defeat the small-string optimisation: copies allocate
  std::int64_t balance;

 private:
  static inline std::atomic<std::int64_t> live_{0};
};

// Arms the copy-failure injector: the Nth copy of an Account on this thread throws.
class FailNthCopy {
 public:
  explicit FailNthCopy(std::int64_t n) {
    copy_fired = false;
    copy_countdown = n;
    copy_armed = true;
  }
  ~FailNthCopy() { copy_armed = false; }
  FailNthCopy(const FailNthCopy&) = delete;
  FailNthCopy& operator=(const FailNthCopy&) = delete;
};

using AccountStore = vkv::Store<Account>;
using Rec = AccountStore::record_type;
using Tx = vkv::Transaction<Account>;

// Ids longer than the small-string buffer, so that copying a key allocates too.
std::string id(int n) { return "account-number-" + std::to_string(1000000 + n); }
Account acct(int n, std::int64_t balance) {
  return Account("owner-with-a-long-name-" + std::to_string(n), balance);
}

using vkv_contract::same_record;  // field-by-field equality of two records

// Everything observable about a set of ids: each record (soft-deleted included), the
// store's size and its write counters.
struct Snapshot {
  std::vector<std::optional<Rec>> records;
  std::size_t size = 0;
  std::uint64_t writes = 0;
  std::uint64_t creates = 0;
};

Snapshot snapshot(const AccountStore& store, const std::vector<std::string>& ids) {
  Snapshot s;
  for (const auto& key : ids) s.records.push_back(store.find(key, vkv::ReadOptions{true}));
  s.size = store.size();
  const vkv::StoreStats stats = store.stats();
  s.writes = stats.writes;
  s.creates = stats.creates;
  return s;
}

::testing::AssertionResult unchanged(const Snapshot& before, const Snapshot& after) {
  if (before.records.size() != after.records.size()) {
    return ::testing::AssertionFailure() << "snapshot sizes differ";
  }
  for (std::size_t i = 0; i < before.records.size(); ++i) {
    const auto& a = before.records[i];
    const auto& b = after.records[i];
    if (a.has_value() != b.has_value()) {
      return ::testing::AssertionFailure()
             << "record " << i << (a ? " vanished" : " appeared") << " after a failed commit";
    }
    if (a) {
      auto same = same_record(*a, *b);
      if (!same) return same << " (record " << i << ")";
    }
  }
  if (before.size != after.size) {
    return ::testing::AssertionFailure() << "size " << before.size << " -> " << after.size;
  }
  if (before.writes != after.writes || before.creates != after.creates) {
    return ::testing::AssertionFailure()
           << "write counters moved: writes " << before.writes << " -> " << after.writes;
  }
  return ::testing::AssertionSuccess();
}

class TransactionTest : public ::testing::Test {
 protected:
  TransactionTest() : store_(options()) {}

  static vkv::StoreOptions options() {
    vkv::StoreOptions o;
    o.entity_type = "Account";
    return o;
  }

  // Creates accounts 0..n-1 with balance 100 * (i + 1).
  void populate(int n) {
    for (int i = 0; i < n; ++i) {
      ids_.push_back(id(i));
      recs_.push_back(store_.create(id(i), acct(i, 100 * (i + 1))));
    }
  }

  Snapshot snap() const { return snapshot(store_, ids_); }

  AccountStore store_;
  std::vector<std::string> ids_;
  std::vector<Rec> recs_;
};

// ---- success ----

TEST_F(TransactionTest, CommitAppliesEveryKindAndReturnsRecordsInOrder) {
  populate(4);
  const auto before = store_.stats();
  Tx tx;
  tx.check(id(0), recs_[0].version)
      .update(id(1), recs_[1].version, acct(1, 555))
      .soft_delete(id(2), recs_[2].version)
      .erase(id(3), recs_[3].version);
  const std::vector<Rec> out = store_.commit(tx);
  ASSERT_EQ(out.size(), 4u);

  // check: the record as checked.
  EXPECT_TRUE(same_record(out[0], recs_[0]));
  // update: the new value, a fresh version, revision + 1, still live.
  EXPECT_EQ(out[1].id, id(1));
  EXPECT_EQ(out[1].value, acct(1, 555));
  EXPECT_NE(out[1].version, recs_[1].version);
  EXPECT_FALSE(out[1].version.is_nil());
  EXPECT_EQ(out[1].revision, recs_[1].revision + 1);
  EXPECT_FALSE(out[1].deleted);
  // soft_delete: same value, deleted, fresh version, revision + 1.
  EXPECT_EQ(out[2].id, id(2));
  EXPECT_EQ(out[2].value, recs_[2].value);
  EXPECT_TRUE(out[2].deleted);
  EXPECT_NE(out[2].version, recs_[2].version);
  EXPECT_EQ(out[2].revision, recs_[2].revision + 1);
  // erase: the record as it was before.
  EXPECT_TRUE(same_record(out[3], recs_[3]));

  // The store agrees with what was returned.
  EXPECT_TRUE(same_record(*store_.find(id(0)), recs_[0]));
  EXPECT_TRUE(same_record(*store_.find(id(1)), out[1]));
  EXPECT_FALSE(store_.find(id(2)).has_value());
  EXPECT_TRUE(same_record(*store_.find(id(2), vkv::ReadOptions{true}), out[2]));
  EXPECT_FALSE(store_.find(id(3), vkv::ReadOptions{true}).has_value());
  EXPECT_EQ(store_.size(), 2u);

  // A commit counts each record it writes (update, soft delete, erase), not its check.
  const auto after = store_.stats();
  EXPECT_EQ(after.writes - before.writes, 3u);
  EXPECT_EQ(after.conflicts, before.conflicts);
  EXPECT_EQ(after.not_found, before.not_found);
  EXPECT_EQ(after.reads - before.reads, 5u);  // this test's own finds; the commit reads none
}

TEST_F(TransactionTest, TryCommitReturnsTheSameRecords) {
  populate(3);
  Tx tx;
  tx.update(id(2), recs_[2].version, acct(2, 7)).check(id(0), recs_[0].version);
  auto result = store_.try_commit(tx);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(static_cast<bool>(result));
  ASSERT_EQ(result.value().size(), 2u);
  EXPECT_EQ(result.value()[0].id, id(2));
  EXPECT_EQ(result.value()[0].value, acct(2, 7));
  EXPECT_TRUE(same_record(result.value()[1], recs_[0]));
  EXPECT_TRUE(same_record(*store_.find(id(2)), result.value()[0]));
  EXPECT_FALSE(result.current().has_value());
}

TEST_F(TransactionTest, CommittedVersionsAreFreshAndDistinct) {
  populate(6);
  std::set<std::string> seen;
  for (const auto& r : recs_) seen.insert(r.version.to_string());
  Tx tx;
  for (int i = 0; i < 6; ++i) {
    if (i % 2 == 0) {
      tx.update(id(i), recs_[i].version, acct(i, i));
    } else {
      tx.soft_delete(id(i), recs_[i].version);
    }
  }
  const auto out = store_.commit(tx);
  ASSERT_EQ(out.size(), 6u);
  for (const auto& r : out) {
    EXPECT_FALSE(r.version.is_nil());
    EXPECT_TRUE(seen.insert(r.version.to_string()).second) << "version reused: " << r.version;
  }
  // The new versions are what the store now holds, and a second commit needs them.
  Tx again;
  again.update(id(0), recs_[0].version, acct(0, 1));
  EXPECT_THROW(store_.commit(again), vkv::OptimisticLockError);
  Tx next;
  next.update(id(0), out[0].version, acct(0, 1));
  EXPECT_EQ(store_.commit(next)[0].revision, 3u);
}

TEST_F(TransactionTest, EmptyTransactionCommitsNothing) {
  populate(2);
  const auto before = snap();
  Tx tx;
  EXPECT_TRUE(store_.commit(tx).empty());
  auto result = store_.try_commit(tx);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result.value().empty());
  EXPECT_TRUE(unchanged(before, snap()));
  const auto stats = store_.stats();
  EXPECT_EQ(stats.conflicts, 0u);
  EXPECT_EQ(stats.not_found, 0u);
}

TEST_F(TransactionTest, PureCheckTransactionWritesNothing) {
  populate(3);
  const auto before = snap();
  Tx tx;
  for (int i = 0; i < 3; ++i) tx.check(id(i), recs_[i].version);
  const auto out = store_.commit(tx);
  ASSERT_EQ(out.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(same_record(out[i], recs_[i]));
  EXPECT_TRUE(unchanged(before, snap()));  // writes counter included: checks are not writes
}

TEST_F(TransactionTest, SameTransactionCommitsOnceOnly) {
  populate(2);
  Tx tx;
  tx.update(id(0), recs_[0].version, acct(0, 1)).check(id(1), recs_[1].version);
  ASSERT_EQ(store_.commit(tx).size(), 2u);
  const auto before = snap();
  auto second = store_.try_commit(tx);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), vkv::Errc::conflict);
  EXPECT_EQ(second.error_info().entity_id, id(0));
  EXPECT_TRUE(unchanged(before, snap()));
}

// ---- failure: which entry is named ----

TEST_F(TransactionTest, FirstFailingEntryDecidesNotFoundBeforeConflict) {
  populate(4);
  const vkv::Version stale = recs_[3].version;
  recs_[3] = store_.update_with_version(id(3), stale, acct(3, 1));
  const auto before = snap();
  Tx tx;
  tx.check(id(0), recs_[0].version)
      .update(id(1), recs_[1].version, acct(1, 2))
      .update("no-such-account-anywhere", recs_[2].version, acct(2, 2))  // entry 2: not found
      .update(id(3), stale, acct(3, 3));                                 // entry 3: conflict
  try {
    store_.commit(tx);
    FAIL() << "commit succeeded";
  } catch (const vkv::EntityNotFoundError& e) {
    EXPECT_EQ(e.code(), vkv::Errc::not_found);
    EXPECT_EQ(e.entity_id(), "no-such-account-anywhere");
    EXPECT_EQ(e.entity_type(), "Account");
  }
  auto result = store_.try_commit(tx);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::not_found);
  EXPECT_EQ(result.error_info().entity_id, "no-such-account-anywhere");
  EXPECT_FALSE(result.current().has_value());
  EXPECT_THROW(result.value(), vkv::EntityNotFoundError);
  EXPECT_TRUE(unchanged(before, snap()));
}

TEST_F(TransactionTest, FirstFailingEntryDecidesConflictBeforeNotFound) {
  populate(4);
  const vkv::Version stale = recs_[1].version;
  recs_[1] = store_.update_with_version(id(1), stale, acct(1, 1));
  store_.erase(id(3), recs_[3].version);
  ids_.push_back("never-created-account-id");
  const auto before = snap();
  Tx tx;
  tx.check(id(0), recs_[0].version)
      .check(id(1), stale)             // entry 1: conflict
      .erase(id(3), recs_[3].version)  // entry 2: not found (erased)
      .update("never-created-account-id", recs_[2].version, acct(9, 9));  // not found
  try {
    store_.commit(tx);
    FAIL() << "commit succeeded";
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_EQ(e.entity_id(), id(1));
    EXPECT_EQ(e.expected_version(), stale);
    EXPECT_EQ(e.actual_version(), recs_[1].version);
  }
  auto result = store_.try_commit(tx);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::conflict);
  EXPECT_EQ(result.error_info().entity_id, id(1));
  EXPECT_EQ(result.error_info().expected, stale);
  EXPECT_EQ(result.error_info().actual, recs_[1].version);
  // Unlike a single-record try_*, a failed commit carries no current record.
  EXPECT_FALSE(result.current().has_value());
  EXPECT_THROW(result.value(), vkv::OptimisticLockError);
  EXPECT_TRUE(unchanged(before, snap()));
}

TEST_F(TransactionTest, LastEntryFailingStillNamesIt) {
  populate(5);
  const vkv::Version stale = recs_[4].version;
  store_.update_with_version(id(4), stale, acct(4, 0));
  const auto before = snap();
  Tx tx;
  for (int i = 0; i < 4; ++i) tx.update(id(i), recs_[i].version, acct(i, -1));
  tx.soft_delete(id(4), stale);
  auto result = store_.try_commit(tx);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::conflict);
  EXPECT_EQ(result.error_info().entity_id, id(4));
  EXPECT_TRUE(unchanged(before, snap()));
}

// ---- failure leaves no trace, for every op kind and every failure kind ----

enum class FailureKind { conflict, absent, soft_deleted };
enum class OpKind { check, update, soft_delete, erase };

struct FailureCase {
  OpKind op;
  FailureKind failure;
  int position;  // which of the 4 entries fails
};

std::ostream& operator<<(std::ostream& os, const FailureCase& c) {
  static const char* const ops[] = {"check", "update", "soft_delete", "erase"};
  static const char* const failures[] = {"conflict", "absent", "soft_deleted"};
  return os << ops[static_cast<int>(c.op)] << "_" << failures[static_cast<int>(c.failure)] << "_at_"
            << c.position;
}

class TransactionFailureTest : public TransactionTest,
                               public ::testing::WithParamInterface<FailureCase> {};

TEST_P(TransactionFailureTest, NothingChangesAndTheFailingEntryIsNamed) {
  const FailureCase c = GetParam();
  populate(4);
  // Prepare the failing record: a newer version, erased, or soft-deleted.
  const int f = c.position;
  const vkv::Version named = recs_[f].version;
  switch (c.failure) {
    case FailureKind::conflict:
      recs_[f] = store_.update_with_version(id(f), named, acct(f, 42));
      break;
    case FailureKind::absent:
      store_.erase(id(f), named);
      break;
    case FailureKind::soft_deleted:
      recs_[f] = store_.soft_delete(id(f), named);
      break;
  }
  // For a soft-deleted record, name its current version: only the flag refuses it.
  const vkv::Version failing_version =
      c.failure == FailureKind::soft_deleted ? recs_[f].version : named;
  Tx tx;
  for (int i = 0; i < 4; ++i) {
    const vkv::Version v = i == f ? failing_version : recs_[i].version;
    // Entries other than the failing one cycle through every kind.
    const OpKind op = i == f ? c.op : static_cast<OpKind>((i + 1) % 4);
    switch (op) {
      case OpKind::check:
        tx.check(id(i), v);
        break;
      case OpKind::update:
        tx.update(id(i), v, acct(i, -7));
        break;
      case OpKind::soft_delete:
        tx.soft_delete(id(i), v);
        break;
      case OpKind::erase:
        tx.erase(id(i), v);
        break;
    }
  }
  // erase purges soft-deleted records: that combination succeeds (tested below).
  const bool purge = c.op == OpKind::erase && c.failure == FailureKind::soft_deleted;
  const auto before = snap();
  const auto stats_before = store_.stats();
  auto result = store_.try_commit(tx);
  if (purge) {
    EXPECT_TRUE(result.ok());
    return;
  }
  ASSERT_FALSE(result.ok());
  const vkv::Errc expected_code =
      c.failure == FailureKind::conflict ? vkv::Errc::conflict : vkv::Errc::not_found;
  EXPECT_EQ(result.error(), expected_code);
  EXPECT_EQ(result.error_info().entity_id, id(f));
  EXPECT_EQ(result.error_info().entity_type, "Account");
  EXPECT_FALSE(result.current().has_value());
  EXPECT_TRUE(unchanged(before, snap()));
  const auto stats_after = store_.stats();
  EXPECT_EQ(stats_after.conflicts - stats_before.conflicts,
            c.failure == FailureKind::conflict ? 1u : 0u);
  EXPECT_EQ(stats_after.not_found - stats_before.not_found,
            c.failure == FailureKind::conflict ? 0u : 1u);

  // The throwing twin: the same error type, still nothing changed.
  if (c.failure == FailureKind::conflict) {
    EXPECT_THROW(store_.commit(tx), vkv::OptimisticLockError);
  } else {
    EXPECT_THROW(store_.commit(tx), vkv::EntityNotFoundError);
  }
  EXPECT_TRUE(unchanged(before, snap()));
}

std::vector<FailureCase> all_failure_cases() {
  std::vector<FailureCase> cases;
  for (int op = 0; op < 4; ++op) {
    for (int failure = 0; failure < 3; ++failure) {
      for (int position = 0; position < 4; ++position) {
        cases.push_back({static_cast<OpKind>(op), static_cast<FailureKind>(failure), position});
      }
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllKinds, TransactionFailureTest, ::testing::ValuesIn(all_failure_cases()),
                         [](const auto& info) { return ::testing::PrintToString(info.param); });

// ---- the same id twice ----

TEST_F(TransactionTest, SameIdTwiceIsInvalidArgumentAndChangesNothing) {
  populate(3);
  const auto before = snap();
  const auto stats_before = store_.stats();
  Tx tx;
  tx.update(id(0), recs_[0].version, acct(0, 1))
      .check(id(1), recs_[1].version)
      .erase(id(0), recs_[0].version);
  EXPECT_THROW(store_.commit(tx), std::invalid_argument);
  EXPECT_THROW(store_.try_commit(tx), std::invalid_argument);
  // Even when an earlier entry would fail anyway.
  Tx failing;
  failing.check("missing-account-identifier", recs_[0].version)
      .check(id(2), recs_[2].version)
      .check(id(2), recs_[2].version);
  EXPECT_THROW(store_.commit(failing), std::invalid_argument);
  EXPECT_THROW(store_.try_commit(failing), std::invalid_argument);
  EXPECT_TRUE(unchanged(before, snap()));
  const auto stats_after = store_.stats();
  EXPECT_EQ(stats_after.conflicts, stats_before.conflicts);
  EXPECT_EQ(stats_after.not_found, stats_before.not_found);
}

TEST(TransactionKeysTest, SameIdTwiceUsesTheStoresKeyEquality) {
  // Keys equal under KeyEqual but not bitwise: a case-insensitive string key.
  struct LowerHash {
    std::size_t operator()(const std::string& s) const {
      std::string lower;
      for (char ch : s) lower.push_back(static_cast<char>(std::tolower(ch)));
      return std::hash<std::string>()(lower);
    }
  };
  struct LowerEqual {
    bool operator()(const std::string& a, const std::string& b) const {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(a[i]) != std::tolower(b[i])) return false;
      }
      return true;
    }
  };
  vkv::Store<int, std::string, LowerHash, LowerEqual> store;
  const auto a = store.create("alpha", 1);
  vkv::Transaction<int> tx;
  tx.check("alpha", a.version).update("ALPHA", a.version, 2);
  EXPECT_THROW(store.commit(tx), std::invalid_argument);
  EXPECT_EQ(store.find("alpha")->value, 1);
  EXPECT_EQ(store.find("alpha")->version, a.version);
}

TEST(TransactionKeysTest, IntegerKeysAreNamedAsText) {
  vkv::StoreOptions options;
  options.entity_type = "Item";
  vkv::Store<int, int> store(options);
  const auto a = store.create(7, 70);
  const auto b = store.create(8, 80);
  vkv::Transaction<int, int> tx;
  tx.update(7, a.version, 71).update(8, a.version, 81);
  try {
    store.commit(tx);
    FAIL();
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_EQ(e.entity_id(), "8");
    EXPECT_EQ(e.entity_type(), "Item");
    EXPECT_EQ(e.actual_version(), b.version);
  }
  EXPECT_EQ(store.find(7)->value, 70);
}

// ---- erase, create again; soft-deleted records ----

TEST_F(TransactionTest, EraseInTransactionThenCreateAgain) {
  populate(2);
  Tx tx;
  tx.erase(id(0), recs_[0].version).update(id(1), recs_[1].version, acct(1, 9));
  store_.commit(tx);
  EXPECT_FALSE(store_.find(id(0), vkv::ReadOptions{true}).has_value());
  EXPECT_EQ(store_.size(), 1u);

  // The erased record's old version no longer names anything.
  Tx stale;
  stale.check(id(0), recs_[0].version);
  auto refused = store_.try_commit(stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), vkv::Errc::not_found);

  const Rec again = store_.create(id(0), acct(0, 1));
  EXPECT_EQ(again.revision, 1u);
  EXPECT_NE(again.version, recs_[0].version);
  EXPECT_EQ(store_.size(), 2u);
  // The reborn record takes part in transactions like any other.
  Tx next;
  next.update(id(0), again.version, acct(0, 2)).erase(id(1), store_.find(id(1))->version);
  const auto out = store_.commit(next);
  EXPECT_EQ(out[0].revision, 2u);
  EXPECT_EQ(store_.find(id(0))->value, acct(0, 2));
  EXPECT_FALSE(store_.find(id(1)).has_value());
  EXPECT_EQ(store_.size(), 1u);
  // And erased twice in a row through transactions.
  Tx erase_again;
  erase_again.erase(id(0), out[0].version);
  store_.commit(erase_again);
  EXPECT_EQ(store_.size(), 0u);
  EXPECT_EQ(store_.create(id(0), acct(0, 3)).revision, 1u);
}

TEST_F(TransactionTest, SoftDeletedRecordsAreNotFoundByCheckUpdateSoftDelete) {
  populate(2);
  const Rec gone = store_.soft_delete(id(0), recs_[0].version);
  const auto before = snap();
  Tx check;
  check.check(id(0), gone.version);
  Tx update;
  update.update(id(0), gone.version, acct(0, 1));
  Tx soft;
  soft.soft_delete(id(0), gone.version);
  for (const Tx* tx : {&check, &update, &soft}) {
    auto result = store_.try_commit(*tx);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), vkv::Errc::not_found);
    EXPECT_EQ(result.error_info().entity_id, id(0));
    EXPECT_THROW(store_.commit(*tx), vkv::EntityNotFoundError);
  }
  EXPECT_TRUE(unchanged(before, snap()));
  // Restored, it is found again.
  const Rec back = store_.restore(id(0), gone.version);
  Tx after;
  after.check(id(0), back.version);
  EXPECT_TRUE(store_.try_commit(after).ok());
}

TEST_F(TransactionTest, EraseMayPurgeASoftDeletedRecord) {
  populate(2);
  const Rec gone = store_.soft_delete(id(0), recs_[0].version);
  EXPECT_EQ(store_.size(), 1u);
  Tx tx;
  tx.erase(id(0), gone.version).check(id(1), recs_[1].version);
  const auto out = store_.commit(tx);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(same_record(out[0], gone));  // the record as it was: soft-deleted
  EXPECT_FALSE(store_.find(id(0), vkv::ReadOptions{true}).has_value());
  EXPECT_EQ(store_.size(), 1u);  // a soft-deleted record was not counted; still not
  EXPECT_EQ(store_.create(id(0), acct(0, 5)).revision, 1u);
  EXPECT_EQ(store_.size(), 2u);
}

TEST_F(TransactionTest, SoftDeleteInTransactionThenRestoreSingly) {
  populate(1);
  Tx tx;
  tx.soft_delete(id(0), recs_[0].version);
  const Rec gone = store_.commit(tx)[0];
  EXPECT_EQ(store_.size(), 0u);
  const Rec back = store_.restore(id(0), gone.version);
  EXPECT_FALSE(back.deleted);
  EXPECT_EQ(back.revision, 3u);
  EXPECT_EQ(back.value, recs_[0].value);
  EXPECT_EQ(store_.size(), 1u);
}

// ---- on_conflict ----

TEST(TransactionCallbackTest, OnConflictIsCalledForAFailedCheck) {
  std::vector<vkv::ConflictEvent> events;
  vkv::StoreOptions options;
  options.entity_type = "Account";
  options.on_conflict = [&](const vkv::ConflictEvent& e) { events.push_back(e); };
  AccountStore store(options);
  const Rec a = store.create(id(0), acct(0, 1));
  const Rec b = store.create(id(1), acct(1, 1));
  const Rec b2 = store.update_with_version(id(1), b.version, acct(1, 2));
  ASSERT_TRUE(events.empty());

  Tx tx;
  tx.update(id(0), a.version, acct(0, 5)).check(id(1), b.version);
  EXPECT_THROW(store.commit(tx), vkv::OptimisticLockError);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].entity_type, "Account");
  EXPECT_EQ(events[0].entity_id, id(1));
  EXPECT_EQ(events[0].expected, b.version);
  EXPECT_EQ(events[0].actual, b2.version);

  EXPECT_FALSE(store.try_commit(tx).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].entity_id, id(1));

  // Not for a success, nor for not found.
  Tx ok;
  ok.check(id(1), b2.version);
  store.commit(ok);
  Tx missing;
  missing.check("no-such-account-at-all", a.version);
  EXPECT_FALSE(store.try_commit(missing).ok());
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(store.find(id(0))->value, acct(0, 1));
}

TEST(TransactionCallbackTest, OnConflictMayThrowAndMayCallBackIntoTheStore) {
  vkv::StoreOptions options;
  AccountStore* self = nullptr;
  int calls = 0;
  options.on_conflict = [&](const vkv::ConflictEvent& e) {
    ++calls;
    // Re-entering the store from the callback must not deadlock.
    EXPECT_TRUE(self->find(e.entity_id).has_value());
    throw std::runtime_error("from on_conflict");
  };
  AccountStore store(options);
  self = &store;
  const Rec a = store.create(id(0), acct(0, 1));
  store.update_with_version(id(0), a.version, acct(0, 2));
  Tx tx;
  tx.check(id(0), a.version);
  EXPECT_THROW(store.commit(tx), std::runtime_error);
  EXPECT_THROW(store.try_commit(tx), std::runtime_error);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(store.find(id(0))->value, acct(0, 2));
}

// ---- std::bad_alloc and throwing copies at every step of a commit ----

class TransactionFaultTest : public TransactionTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
    populate(6);
    store_.soft_delete(id(5), recs_[5].version);  // purged by the transaction below
    recs_[5] = *store_.find(id(5), vkv::ReadOptions{true});
  }

  // One transaction with every kind of entry, long keys and values.
  Tx make_tx() const {
    Tx tx;
    tx.check(id(0), recs_[0].version)
        .update(id(1), recs_[1].version, acct(1, 1111))
        .soft_delete(id(2), recs_[2].version)
        .erase(id(3), recs_[3].version)
        .update(id(4), recs_[4].version, acct(4, 4444))
        .erase(id(5), recs_[5].version);
    return tx;
  }

  void expect_committed(const std::vector<Rec>& out) {
    ASSERT_EQ(out.size(), 6u);
    EXPECT_TRUE(same_record(out[0], recs_[0]));
    EXPECT_EQ(store_.find(id(1))->value, acct(1, 1111));
    EXPECT_TRUE(store_.find(id(2), vkv::ReadOptions{true})->deleted);
    EXPECT_FALSE(store_.find(id(3), vkv::ReadOptions{true}).has_value());
    EXPECT_EQ(store_.find(id(4))->value, acct(4, 4444));
    EXPECT_FALSE(store_.find(id(5), vkv::ReadOptions{true}).has_value());
    EXPECT_EQ(store_.size(), 3u);  // 0, 1 and 4
  }

  // Runs `attempt` with the injector armed at N = 1, 2, ... until it succeeds.
  // After each failure: the store is exactly as before and, once the epoch scheme has
  // freed what it may, no Account instance leaked. Returns the number of failures.
  template <class Arm, class Attempt>
  int fail_each_step(Arm arm, Attempt attempt, const bool& fired) {
    const Tx tx = make_tx();
    const Snapshot before = snap();
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
    if (::testing::Test::HasFailure()) return 0;
    const std::int64_t baseline = Account::live();
    int failures = 0;
    for (std::int64_t n = 1; n < 10000; ++n) {
      std::optional<std::vector<Rec>> out;
      bool threw = false;
      {
        auto armed = arm(n);
        try {
          out = attempt(tx);
        } catch (const std::bad_alloc&) {
          threw = true;
        } catch (const CopyFailure&) {
          threw = true;
        }
      }
      if (!threw) {
        RecordProperty("injected_failures", failures);
        EXPECT_FALSE(fired) << "the injected failure at step " << n << " was swallowed";
        expect_committed(*out);
        return failures;
      }
      EXPECT_TRUE(fired);
      ++failures;
      EXPECT_TRUE(unchanged(before, snap())) << "after a failure injected at step " << n;
      EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
      EXPECT_EQ(Account::live(), baseline) << "Account instances leaked at step " << n;
      if (::testing::Test::HasFailure()) return failures;
    }
    ADD_FAILURE() << "the commit never succeeded";
    return failures;
  }
};

TEST_F(TransactionFaultTest, BadAllocAtEachAllocationOfCommitChangesNothing) {
  const int failures =
      fail_each_step([](std::int64_t n) { return std::make_unique<FailNthAllocation>(n); },
                     [&](const Tx& tx) { return store_.commit(tx); }, vkv_test::injected::fired);
  // The commit allocates (descriptor, nodes, copies of keys and values): the loop must
  // have failed it several times, or it tested nothing.
  EXPECT_GE(failures, 6);
}

TEST_F(TransactionFaultTest, BadAllocAtEachAllocationOfTryCommitChangesNothing) {
  const int failures = fail_each_step(
      [](std::int64_t n) { return std::make_unique<FailNthAllocation>(n); },
      [&](const Tx& tx) { return store_.try_commit(tx).value(); }, vkv_test::injected::fired);
  EXPECT_GE(failures, 6);
}

TEST_F(TransactionFaultTest, ThrowingCopyAtEachCopyOfCommitChangesNothing) {
  const int failures =
      fail_each_step([](std::int64_t n) { return std::make_unique<FailNthCopy>(n); },
                     [&](const Tx& tx) { return store_.commit(tx); }, copy_fired);
  // At least: the two updated values, the soft-deleted value, the returned records.
  EXPECT_GE(failures, 3);
}

TEST_F(TransactionFaultTest, ThrowingCopyAtEachCopyOfTryCommitChangesNothing) {
  const int failures =
      fail_each_step([](std::int64_t n) { return std::make_unique<FailNthCopy>(n); },
                     [&](const Tx& tx) { return store_.try_commit(tx).value(); }, copy_fired);
  EXPECT_GE(failures, 3);
}

TEST_F(TransactionFaultTest, BadAllocDuringAFailingCommitStillReportsOrThrowsCleanly) {
  // A commit that would fail on its last entry: an injected failure on the way must
  // change nothing either, and without injection it reports the conflict.
  store_.update_with_version(id(4), recs_[4].version, acct(4, 0));
  const Tx tx = make_tx();
  const Snapshot before = snap();
  for (std::int64_t n = 1; n < 10000; ++n) {
    bool threw = false;
    std::optional<vkv::Result<std::vector<Rec>>> result;
    {
      FailNthAllocation armed(n);
      try {
        result.emplace(store_.try_commit(tx));
      } catch (const std::bad_alloc&) {
        threw = true;
      }
    }
    EXPECT_TRUE(unchanged(before, snap())) << "step " << n;
    if (!threw) {
      ASSERT_FALSE(result->ok());
      EXPECT_EQ(result->error(), vkv::Errc::conflict);
      EXPECT_EQ(result->error_info().entity_id, id(4));
      break;
    }
  }
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
}

// ---- a failed commit's verdict must hold at one instant too ----

// KeyEqual with a hook: while armed on the committing thread, comparing the key
// `hook_key` (which the commit's index lookup of that entry does) first runs
// `hook_action` on another thread, to completion. That places other writers exactly
// between two entries of a commit, deterministically.
constinit thread_local bool key_hook_armed = false;
const std::string* hook_key = nullptr;
std::function<void()> hook_action;

struct HookedEqual {
  bool operator()(const std::string& a, const std::string& b) const {
    if (key_hook_armed && hook_key != nullptr && (a == *hook_key || b == *hook_key)) {
      key_hook_armed = false;
      std::thread(hook_action).join();
    }
    return a == b;
  }
};

TEST(TransactionLinearizabilityTest, FailedCommitNamesAnEntryThatFailedAtOneInstant) {
  // tx = [check A@vA, check B@vB]. After the commit has taken A, another thread
  // writes A (aborting the commit, which has not yet taken B) and then B. Every state
  // the store passed through is one of: {A@vA, B@vB} (the commit would succeed),
  // {A', B@vB} and {A', B'} (it fails on A). No state has A at vA and B changed, so
  // "conflict on B" is not a linearizable answer: the error must name A (or the
  // commit must succeed).
  using HookStore = vkv::Store<int, std::string, std::hash<std::string>, HookedEqual>;
  HookStore store;
  const std::string a_id = "account-A-with-a-long-identifier";
  const std::string b_id = "account-B-with-a-long-identifier";
  const auto a = store.create(a_id, 1);
  const auto b = store.create(b_id, 2);
  // Look both keys up once first: the map rehashes a bucket on its first lookup under
  // the bucket's write lock; afterwards a lookup holds it shared, so the hook's writers
  // can look B up while the commit's lookup of B is paused in KeyEqual.
  ASSERT_TRUE(store.find(a_id) && store.find(b_id));
  hook_key = &b_id;
  hook_action = [&] {
    store.update_with_version(a_id, a.version, 10);
    store.update_with_version(b_id, b.version, 20);
  };
  vkv::Transaction<int> tx;
  tx.check(a_id, a.version).check(b_id, b.version);
  key_hook_armed = true;
  auto result = store.try_commit(tx);
  key_hook_armed = false;
  ASSERT_FALSE(key_hook_armed) << "the hook never ran: the test did not interleave";
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::conflict);
  EXPECT_EQ(result.error_info().entity_id, a_id)
      << "a failed commit reported an entry that never failed while the earlier ones held";
  EXPECT_EQ(store.find(a_id)->value, 10);
  EXPECT_EQ(store.find(b_id)->value, 20);
  hook_key = nullptr;
  hook_action = nullptr;
}

TEST(TransactionLinearizabilityTest, FailedCommitNotFoundAlsoHoldsAtOneInstant) {
  // The same with "not found": A is written, then B soft-deleted (an erase would need
  // the bucket's write lock, which the paused lookup holds shared).
  using HookStore = vkv::Store<int, std::string, std::hash<std::string>, HookedEqual>;
  HookStore store;
  const std::string a_id = "account-A-with-a-long-identifier";
  const std::string b_id = "account-B-with-a-long-identifier";
  const auto a = store.create(a_id, 1);
  const auto b = store.create(b_id, 2);
  // Look both keys up once first: the map rehashes a bucket on its first lookup under
  // the bucket's write lock; afterwards a lookup holds it shared, so the hook's writers
  // can look B up while the commit's lookup of B is paused in KeyEqual.
  ASSERT_TRUE(store.find(a_id) && store.find(b_id));
  hook_key = &b_id;
  hook_action = [&] {
    store.update_with_version(a_id, a.version, 10);
    store.soft_delete(b_id, b.version);
  };
  vkv::Transaction<int> tx;
  tx.update(a_id, a.version, 100).check(b_id, b.version);
  key_hook_armed = true;
  auto result = store.try_commit(tx);
  key_hook_armed = false;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::conflict);
  EXPECT_EQ(result.error_info().entity_id, a_id);
  EXPECT_EQ(store.find(a_id)->value, 10);
  EXPECT_TRUE(store.find(b_id, vkv::ReadOptions{true})->deleted);
  hook_key = nullptr;
  hook_action = nullptr;
}

// ---- nothing may allocate once a commit is decided (epoch.hpp, invariant 4) ----

TEST(TransactionReclaimTest, MultiEraseCommitReservesEveryRetirementBeforeDeciding) {
  // A commit that erases k records retires, after it is decided, k replaced nodes, k
  // index entries and its descriptor. If it reserved less, a retire() finds the
  // thread's limbo full and must allocate after the commit (and, out of memory, leaks
  // the object: the injected failure is swallowed). To see it, fill the limbo to
  // exactly what a commit that under-reserves would leave free, with the epoch pinned
  // by a Guard so that nothing is freed meanwhile, then fail each allocation in turn.
  constexpr int kErased = 3;
  for (std::int64_t n = 1; n < 1000; ++n) {
    AccountStore store;
    Tx tx;
    for (int i = 0; i < kErased; ++i) {
      const Rec r = store.create(id(i), acct(i, i));
      tx.erase(id(i), r.version);
    }
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
    bool threw = false;
    {
      vkv::detail::epoch::Guard pin;  // nothing retired from here on can be freed
      auto& limbo = vkv::detail::epoch::this_thread().limbo;
      // Leave room for kErased + 2 retirements: what "installed + 2" reserved.
      const std::size_t room = kErased + 2;
      ASSERT_GE(limbo.capacity(), limbo.size() + room);
      while (limbo.size() < limbo.capacity() - room) {
        vkv::detail::epoch::retire(
            new char('x'), [](void* p) noexcept { delete static_cast<char*>(p); }, 1);
      }
      FailNthAllocation armed(n);
      try {
        store.commit(tx);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      if (!threw) {
        EXPECT_FALSE(vkv_test::injected::fired)
            << "allocation " << n << " failed after the commit was decided and was swallowed";
      }
    }
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
    if (!threw) {
      EXPECT_EQ(store.size(), 0u);
      for (int i = 0; i < kErased; ++i) {
        EXPECT_FALSE(store.find(id(i), vkv::ReadOptions{true}).has_value());
      }
      return;
    }
    // A failed attempt changed nothing.
    EXPECT_EQ(store.size(), static_cast<std::size_t>(kErased));
    if (::testing::Test::HasFailure()) return;
  }
  ADD_FAILURE() << "the commit never succeeded";
}

// ---- std::bad_alloc while another thread helps the commit ----

AccountStore* helper_store = nullptr;
const std::string* helper_key = nullptr;

TEST(TransactionHelpedFaultTest, BadAllocWhileAHelperDecidesChangesNothingOrEverything) {
  // At the Nth allocation of a commit, another thread writes (with a wrong version) to
  // the commit's first record: a writer that meets a commit's entry resolves it, and if
  // every entry is installed it decides the commit succeeded. Then the allocation fails.
  // Whatever N: either the commit throws and nothing changed, or it returns and every
  // record changed; never a mix, never a node freed while the store still holds it.
  const std::string a_id = id(1);
  const std::string b_id = id(2);
  for (std::int64_t n = 1; n < 1000; ++n) {
    // On failure the store is leaked on purpose: it may hold a node the commit freed,
    // and destroying it would crash before the failure is reported.
    auto owned = std::make_unique<AccountStore>();
    AccountStore& store = *owned;
    const Rec a = store.create(a_id, acct(1, 10));
    const Rec b = store.create(b_id, acct(2, 20));
    Tx tx;
    tx.update(a_id, a.version, acct(1, 11)).update(b_id, b.version, acct(2, 21));
    helper_store = &store;
    helper_key = &a_id;
    vkv_test::injected::before_failure = [] {
      std::thread([] {
        // Conflicts (nil version), but resolves the commit's entry on the way.
        (void)helper_store->try_update_with_version(*helper_key, vkv::Version(), acct(0, 0));
      }).join();
    };
    bool threw = false;
    {
      FailNthAllocation armed(n);
      try {
        store.commit(tx);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
    }
    vkv_test::injected::before_failure = nullptr;
    const auto a_now = store.find(a_id);
    const auto b_now = store.find(b_id);
    ASSERT_TRUE(a_now.has_value() && b_now.has_value());
    const bool a_changed = a_now->version != a.version;
    const bool b_changed = b_now->version != b.version;
    EXPECT_EQ(a_changed, b_changed) << "a torn commit at allocation " << n;
    if (threw) {
      EXPECT_FALSE(a_changed) << "commit threw at allocation " << n << " yet wrote " << a_id;
      EXPECT_TRUE(same_record(*a_now, a));
      EXPECT_TRUE(same_record(*b_now, b));
    } else {
      EXPECT_EQ(a_now->value, acct(1, 11));
      EXPECT_EQ(b_now->value, acct(2, 21));
    }
    if (::testing::Test::HasFailure()) {
      (void)owned.release();
      return;
    }
    if (!threw) return;
  }
  ADD_FAILURE() << "the commit never succeeded";
}

}  // namespace
