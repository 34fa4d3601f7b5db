// Stress tests of the atomic multi-record commit racing with itself, with readers, with
// single-record writers and with erase/create and soft-delete/restore churn. Fixed
// seeds, counted operations, invariants checked at the end (and on every validated
// snapshot); nothing may leak (a live-instance count, after the epoch scheme drained).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <latch>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace {

// An account: a balance moved by transfers and a counter bumped by single-record
// writers. Counts its live instances.
class Acct {
 public:
  Acct() noexcept : Acct(0, 0) {}
  Acct(std::int64_t balance, std::int64_t counter) noexcept : balance(balance), counter(counter) {
    // relaxed: read only after every thread was joined (join synchronises).
    live_.fetch_add(1, std::memory_order_relaxed);
  }
  Acct(const Acct& o) noexcept : balance(o.balance), counter(o.counter) {
    live_.fetch_add(1, std::memory_order_relaxed);  // relaxed: see above
  }
  Acct& operator=(const Acct&) = default;
  ~Acct() { live_.fetch_sub(1, std::memory_order_relaxed); }  // relaxed: see above
  static std::int64_t live() { return live_.load(std::memory_order_relaxed); }

  std::int64_t balance;
  std::int64_t counter;

 private:
  static inline std::atomic<std::int64_t> live_{0};
};

using AcctStore = vkv::Store<Acct>;
using Rec = AcctStore::record_type;
using Tx = vkv::Transaction<Acct>;

constexpr std::int64_t kInitial = 1000;

std::string account(int i) { return vkv_test::realistic_key("acct-" + std::to_string(i), i); }

class TransactionStress : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
    live_before_ = Acct::live();
  }
  void TearDown() override {
    store_.reset();
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
    EXPECT_EQ(Acct::live(), live_before_) << "Acct instances leaked";
  }

  void make_accounts(int n) {
    store_.emplace();
    for (int i = 0; i < n; ++i) store_->create(account(i), Acct(kInitial, 0));
  }

  // One transfer attempt between two distinct accounts; true if it committed.
  // deltas[i] records what this thread moved, for the per-account check at the end.
  static bool transfer(AcctStore& store, int n, std::mt19937_64& rng,
                       std::vector<std::int64_t>& deltas, std::int64_t& conflicts) {
    const int from = static_cast<int>(rng() % static_cast<std::uint64_t>(n));
    int to = static_cast<int>(rng() % static_cast<std::uint64_t>(n - 1));
    if (to >= from) ++to;
    const std::int64_t amount = static_cast<std::int64_t>(rng() % 50) + 1;
    const auto a = store.find(account(from));
    const auto b = store.find(account(to));
    if (!a || !b) {
      ADD_FAILURE() << "an account vanished";
      return false;
    }
    Tx tx;
    // Keep the counter as read: a lost single-record write would show as a short count.
    tx.update(account(from), a->version, Acct(a->value.balance - amount, a->value.counter))
        .update(account(to), b->version, Acct(b->value.balance + amount, b->value.counter));
    auto result = store.try_commit(tx);
    if (!result.ok()) {
      EXPECT_EQ(result.error(), vkv::Errc::conflict);
      EXPECT_FALSE(result.current().has_value());
      ++conflicts;
      return false;
    }
    EXPECT_EQ(result.value().size(), 2u);
    deltas[static_cast<std::size_t>(from)] -= amount;
    deltas[static_cast<std::size_t>(to)] += amount;
    return true;
  }

  // Reads every account, then commits a transaction of checks of what it read. When
  // that commits, the reads were one consistent snapshot: its balances sum to the total.
  static bool validated_snapshot(AcctStore& store, int n, std::int64_t& bad_sums) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(account(i));
    const auto read = store.find_many(ids);
    Tx tx;
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i) {
      if (!read[static_cast<std::size_t>(i)]) {
        ADD_FAILURE() << "an account vanished";
        return false;
      }
      tx.check(ids[static_cast<std::size_t>(i)], read[static_cast<std::size_t>(i)]->version);
      sum += read[static_cast<std::size_t>(i)]->value.balance;
    }
    auto result = store.try_commit(tx);
    if (!result.ok()) return false;
    // The checks return the records as checked: the same snapshot again.
    std::int64_t checked_sum = 0;
    for (const Rec& r : result.value()) checked_sum += r.value.balance;
    if (sum != kInitial * n || checked_sum != sum) ++bad_sums;
    return true;
  }

  std::optional<AcctStore> store_;
  std::int64_t live_before_ = 0;
};

// (a) Transfers by several threads; other threads take snapshots validated by a
// transaction of pure checks. Every validated snapshot sums to the total; each
// account ends at its initial balance plus exactly the transfers that committed.
TEST_F(TransactionStress, TransfersConserveTheTotalAndValidatedSnapshotsSeeIt) {
  constexpr int kAccounts = 6;
  constexpr int kTransferThreads = 2;
  constexpr int kSnapshotThreads = 2;
  const std::int64_t transfers_per_thread = vkv_test::scaled(10000, 8);
  const std::int64_t snapshots_wanted = vkv_test::scaled(400, 8);
  make_accounts(kAccounts);
  AcctStore& store = *store_;

  std::vector<std::vector<std::int64_t>> deltas(kTransferThreads,
                                                std::vector<std::int64_t>(kAccounts, 0));
  std::vector<std::int64_t> committed(kTransferThreads, 0), conflicts(kTransferThreads, 0);
  std::vector<std::int64_t> validated(kSnapshotThreads, 0), bad_sums(kSnapshotThreads, 0);
  std::atomic<int> writers_left{kTransferThreads};
  std::latch start(kTransferThreads + kSnapshotThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kTransferThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + static_cast<std::uint64_t>(t));
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < transfers_per_thread; ++i) {
        if (transfer(store, kAccounts, rng, deltas[static_cast<std::size_t>(t)],
                     conflicts[static_cast<std::size_t>(t)])) {
          ++committed[static_cast<std::size_t>(t)];
        }
      }
      // release: pairs with the snapshot threads' acquire load (they stop after us).
      writers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  for (int t = 0; t < kSnapshotThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      // Keep going until the writers are done and enough snapshots validated; once
      // the writers stop, every snapshot validates, so this ends.
      // acquire: pairs with the writers' release decrement.
      while (writers_left.load(std::memory_order_acquire) > 0 ||
             validated[static_cast<std::size_t>(t)] < snapshots_wanted) {
        if (validated_snapshot(store, kAccounts, bad_sums[static_cast<std::size_t>(t)])) {
          ++validated[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  std::int64_t total_committed = 0;
  for (int t = 0; t < kTransferThreads; ++t) {
    total_committed += committed[static_cast<std::size_t>(t)];
  }
  EXPECT_GT(total_committed, 0);
  for (int t = 0; t < kSnapshotThreads; ++t) {
    EXPECT_EQ(bad_sums[static_cast<std::size_t>(t)], 0) << "a validated snapshot had a bad sum";
    EXPECT_GE(validated[static_cast<std::size_t>(t)], snapshots_wanted);
  }
  std::int64_t sum = 0;
  for (int i = 0; i < kAccounts; ++i) {
    std::int64_t expected = kInitial;
    for (int t = 0; t < kTransferThreads; ++t) {
      expected += deltas[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)];
    }
    const auto rec = store.find(account(i));
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->value.balance, expected) << account(i);
    sum += rec->value.balance;
  }
  EXPECT_EQ(sum, kInitial * kAccounts);
  // Every commit wrote two records; checks are not writes.
  const auto stats = store.stats();
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(2 * total_committed));
  std::int64_t total_conflicts = 0;
  for (auto c : conflicts) total_conflicts += c;
  EXPECT_GE(stats.conflicts, static_cast<std::uint64_t>(total_conflicts));
}

// (b) Single-record writers bump a counter field (update_with_version after a read, and
// update_with_retry) on the same accounts that transactions move balances between. No
// update may be lost either way: each counter equals the single writes that succeeded
// on it, and each balance equals the initial one plus the committed transfers.
TEST_F(TransactionStress, SingleRecordWritersAndTransactionsLoseNoUpdate) {
  constexpr int kAccounts = 4;
  constexpr int kTransferThreads = 2;
  constexpr int kSingleThreads = 2;
  const std::int64_t ops_per_thread = vkv_test::scaled(10000, 8);
  make_accounts(kAccounts);
  AcctStore& store = *store_;

  std::vector<std::vector<std::int64_t>> deltas(kTransferThreads,
                                                std::vector<std::int64_t>(kAccounts, 0));
  std::vector<std::vector<std::int64_t>> bumps(kSingleThreads,
                                               std::vector<std::int64_t>(kAccounts, 0));
  std::vector<std::int64_t> conflicts(kTransferThreads, 0);
  std::vector<std::int64_t> single_conflicts(kSingleThreads, 0);
  std::latch start(kTransferThreads + kSingleThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kTransferThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(2000 + static_cast<std::uint64_t>(t));
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < ops_per_thread; ++i) {
        transfer(store, kAccounts, rng, deltas[static_cast<std::size_t>(t)],
                 conflicts[static_cast<std::size_t>(t)]);
      }
    });
  }
  for (int t = 0; t < kSingleThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(3000 + static_cast<std::uint64_t>(t));
      auto& mine = bumps[static_cast<std::size_t>(t)];
      vkv::RetryPolicy policy;
      policy.max_retries = 8;
      policy.retry_delay = std::chrono::nanoseconds(100);
      policy.max_delay = std::chrono::microseconds(5);
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < ops_per_thread; ++i) {
        const int k = static_cast<int>(rng() % kAccounts);
        if (i % 2 == 0) {
          const auto rec = store.find(account(k));
          if (!rec) {
            ADD_FAILURE() << "an account vanished";
            return;
          }
          auto result = store.try_update_with_version(
              account(k), rec->version, Acct(rec->value.balance, rec->value.counter + 1));
          if (result.ok()) {
            ++mine[static_cast<std::size_t>(k)];
          } else {
            EXPECT_EQ(result.error(), vkv::Errc::conflict);
            ++single_conflicts[static_cast<std::size_t>(t)];
          }
        } else {
          try {
            store.update_with_retry(
                account(k), [](Acct& a) { ++a.counter; }, policy);
            ++mine[static_cast<std::size_t>(k)];
          } catch (const vkv::OptimisticLockError&) {
            ++single_conflicts[static_cast<std::size_t>(t)];  // retries spent: not applied
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  std::int64_t sum = 0;
  std::int64_t total_bumps = 0;
  for (int i = 0; i < kAccounts; ++i) {
    std::int64_t expected_balance = kInitial;
    for (const auto& d : deltas) expected_balance += d[static_cast<std::size_t>(i)];
    std::int64_t expected_counter = 0;
    for (const auto& b : bumps) expected_counter += b[static_cast<std::size_t>(i)];
    total_bumps += expected_counter;
    const auto rec = store.find(account(i));
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->value.balance, expected_balance) << "lost transfer on " << account(i);
    EXPECT_EQ(rec->value.counter, expected_counter) << "lost single write on " << account(i);
    sum += rec->value.balance;
  }
  EXPECT_EQ(sum, kInitial * kAccounts);
  EXPECT_GT(total_bumps, 0);
}

// (c) Transactions over ids that other threads keep erasing and creating, soft-deleting
// and restoring. Per id, successful creates minus successful erases (single and in
// transactions) is 1 exactly when the id exists at the end; every value carries its
// id's tag (a write never lands on the wrong record); size() agrees with for_each; and
// after the store is gone nothing is left alive.
TEST_F(TransactionStress, TransactionsRacingWithChurnKeepTheBooks) {
  constexpr int kIds = 6;
  constexpr int kChurnThreads = 2;
  constexpr int kTxThreads = 2;
  constexpr int kThreads = kChurnThreads + kTxThreads;
  const std::int64_t ops_per_thread = vkv_test::scaled(10000, 8);
  make_accounts(kIds);
  AcctStore& store = *store_;
  // balance = the id's tag, never changed; counter = how often transactions updated it.
  auto tag = [](int i) { return std::int64_t{100} + i; };
  for (int i = 0; i < kIds; ++i) {
    const auto rec = store.find(account(i));
    store.update_with_version(account(i), rec->version, Acct(tag(i), 0));
  }

  struct Books {
    std::array<std::int64_t, kIds> creates{};
    std::array<std::int64_t, kIds> erases{};
    std::int64_t tx_ok = 0, tx_conflict = 0, tx_not_found = 0, bad_tags = 0;
  };
  std::vector<Books> books(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kChurnThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(4000 + static_cast<std::uint64_t>(t));
      Books& mine = books[static_cast<std::size_t>(t)];
      start.arrive_and_wait();
      for (std::int64_t n = 0; n < ops_per_thread; ++n) {
        const int i = static_cast<int>(rng() % kIds);
        const auto rec = store.find(account(i), vkv::ReadOptions{true});
        if (!rec) {
          if (store.try_create(account(i), Acct(tag(i), 0)).ok()) ++mine.creates[i];
          continue;
        }
        if (rec->value.balance != tag(i)) ++mine.bad_tags;
        switch (rng() % 3) {
          case 0:
            if (store.try_erase(account(i), rec->version).ok()) ++mine.erases[i];
            break;
          case 1:
            if (rec->deleted) {
              store.try_restore(account(i), rec->version);
            } else {
              store.try_soft_delete(account(i), rec->version);
            }
            break;
          default:
            // A single-record write on the same ids, soft-deleted included.
            store.try_update_with_version(account(i), rec->version,
                                          Acct(tag(i), rec->value.counter),
                                          vkv::WriteOptions{true});
            break;
        }
      }
    });
  }
  for (int t = kChurnThreads; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(5000 + static_cast<std::uint64_t>(t));
      Books& mine = books[static_cast<std::size_t>(t)];
      start.arrive_and_wait();
      for (std::int64_t n = 0; n < ops_per_thread; ++n) {
        // 2 or 3 distinct ids, each with an op chosen from what was read.
        const int count = 2 + static_cast<int>(rng() % 2);
        std::array<int, 3> ids{};
        ids[0] = static_cast<int>(rng() % kIds);
        for (int k = 1; k < count; ++k) ids[static_cast<std::size_t>(k)] = (ids[0] + k) % kIds;
        Tx tx;
        std::array<bool, 3> erasing{};
        for (int k = 0; k < count; ++k) {
          const int i = ids[static_cast<std::size_t>(k)];
          const auto rec = store.find(account(i), vkv::ReadOptions{true});
          // An absent id: name a nil version; the commit must say not found.
          const vkv::Version v = rec ? rec->version : vkv::Version();
          if (rec && rec->value.balance != tag(i)) ++mine.bad_tags;
          const std::int64_t counter = rec ? rec->value.counter : 0;
          switch (rng() % 4) {
            case 0:
              tx.check(account(i), v);
              break;
            case 1:
              tx.update(account(i), v, Acct(tag(i), counter + 1));
              break;
            case 2:
              tx.soft_delete(account(i), v);
              break;
            default:
              tx.erase(account(i), v);
              erasing[static_cast<std::size_t>(k)] = true;
              break;
          }
        }
        auto result = store.try_commit(tx);
        if (result.ok()) {
          ++mine.tx_ok;
          for (int k = 0; k < count; ++k) {
            if (erasing[static_cast<std::size_t>(k)])
              ++mine.erases[ids[static_cast<std::size_t>(k)]];
          }
          for (const Rec& r : result.value()) {
            if (r.value.balance != tag(std::stoi(r.id.substr(5)))) ++mine.bad_tags;
          }
        } else if (result.error() == vkv::Errc::conflict) {
          ++mine.tx_conflict;
        } else {
          ++mine.tx_not_found;
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  Books total;
  for (const Books& b : books) {
    for (int i = 0; i < kIds; ++i) {
      total.creates[i] += b.creates[i];
      total.erases[i] += b.erases[i];
    }
    total.tx_ok += b.tx_ok;
    total.tx_conflict += b.tx_conflict;
    total.tx_not_found += b.tx_not_found;
    total.bad_tags += b.bad_tags;
  }
  EXPECT_EQ(total.bad_tags, 0);
  EXPECT_GT(total.tx_ok, 0);
  EXPECT_EQ(total.tx_ok + total.tx_conflict + total.tx_not_found, kTxThreads * ops_per_thread);
  std::size_t live = 0;
  for (int i = 0; i < kIds; ++i) {
    const auto rec = store.find(account(i), vkv::ReadOptions{true});
    // Every id started present: 1 + creates - erases is 1 if present, 0 if not.
    EXPECT_EQ(1 + total.creates[i] - total.erases[i], rec ? 1 : 0) << account(i);
    if (rec) {
      EXPECT_EQ(rec->value.balance, tag(i));
      if (!rec->deleted) ++live;
    }
  }
  EXPECT_EQ(store.size(), live);
  std::size_t visited = 0;
  store.for_each([&](const Rec& r) {
    EXPECT_FALSE(r.deleted);
    ++visited;
  });
  EXPECT_EQ(visited, live);
  // TearDown destroys the store, drains the epoch scheme and checks for leaks.
}

}  // namespace
