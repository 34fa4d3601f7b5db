// Linearizability of lock-free commits under attack, checked against the
// multi-key model of tests/lin/tx_model.hpp: in each short round, two threads run
// transfers (reads of two accounts, then a 2-key update transaction) while attackers
// hammer the same keys with stale-version updates and erases, duplicate creates, and
// fresh writes, erases and re-creates, and one more thread hammers with stale versions
// (unrecorded: those writes always fail and change nothing). Writers that meet a commit in flight
// help it finish; every recorded response (which entry a failed commit named included) must fit one
// real-time-respecting sequential order.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <latch>
#include <random>
#include <thread>
#include <vector>
#include <vkv/detail/transaction_descriptor.hpp>
#include <vkv/vkv.hpp>

#include "lin/tx_model.hpp"
#include "support/stress.hpp"

namespace {

using namespace vkv_test::tx_lin;  // NOLINT: the shared model

TEST(TxAttackLinearizability, CommitsHelpedByAttackersAreLinearizable) {
  const std::int64_t rounds = vkv_test::scaled(400, 8);
  TxStore store;
  // Versions replaced before the rounds: every write naming them is stale.
  std::vector<vkv::Version> ancient;
  for (int k = 0; k < kKeys; ++k) {
    ancient.push_back(store.create(account(k), 100).version);
    store.update_with_version(account(k), ancient.back(), 100);
  }
  std::atomic<std::uint64_t> clock{0};
  std::int64_t commits_ok = 0, commits_failed = 0, attacker_ops = 0, played = 0;
  std::uint64_t helps = 0, hammer_inside_commits = 0;
  for (std::int64_t round = 0; round < rounds; ++round) {
    State initial;
    for (int k = 0; k < kKeys; ++k) {
      const auto rec = store.find(account(k));
      initial[static_cast<std::size_t>(k)] =
          rec ? Cell{rec->version, rec->value} : Cell{vkv::Version(), 0, false};
    }
    constexpr int kThreads = 4;  // recorded; one more hammers without recording
    std::vector<Recorder> recorders;
    recorders.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) recorders.emplace_back(store, clock);
    std::vector<std::uint64_t> helped(kThreads + 1, 0);
    std::vector<std::uint64_t> hammer_stamps;  // one per hammer op, from the shared clock
    std::atomic<int> recorded_left{kThreads};
    std::latch start(kThreads + 1);
    std::vector<std::thread> threads;
    // The hammer: stale updates and erases (ancient versions: they always fail, so they
    // change nothing and need no place in the history) in a tight loop while the
    // recorded threads run. It is what meets commits in flight most often.
    threads.emplace_back([&] {
      const std::uint64_t helps_before = vkv::detail::tx_probe.helps;
      start.arrive_and_wait();
      // acquire: pairs with the recorded threads' release decrement.
      for (int n = 0; recorded_left.load(std::memory_order_acquire) > 0; ++n) {
        const int k = n % kKeys;
        const vkv::Version& old = ancient[static_cast<std::size_t>(k)];
        // acq_rel: the same clock as the recorded stamps (Recorder::stamp).
        hammer_stamps.push_back(clock.fetch_add(1, std::memory_order_acq_rel));
        const bool refused = n % 2 == 0 ? !store.try_update_with_version(account(k), old, -1).ok()
                                        : !store.try_erase(account(k), old).ok();
        if (!refused) ADD_FAILURE() << "a write with an ancient version succeeded";
        // A scheduling hint, not synchronisation: on two cores the recorded threads
        // must get to run too.
        if (n % 16 == 15) std::this_thread::yield();
      }
      helped[kThreads] = vkv::detail::tx_probe.helps - helps_before;
    });
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(round) * 977 +
                            static_cast<std::uint64_t>(t));
        Recorder& rec = recorders[static_cast<std::size_t>(t)];
        const std::uint64_t helps_before = vkv::detail::tx_probe.helps;
        start.arrive_and_wait();
        if (t < 2) {  // transfers
          for (int i = 0; i < 3; ++i) {
            const int from = static_cast<int>(rng() % kKeys);
            const int to = (from + 1 + static_cast<int>(rng() % (kKeys - 1))) % kKeys;
            const auto a = rec.read(from);
            perturb(rng);
            const auto b = rec.read(to);
            if (!a || !b) continue;  // erased meanwhile
            perturb(rng);
            const Balance amount = static_cast<Balance>(rng() % 10) + 1;
            rec.commit(Kind::transfer, {from, to}, {a->version, b->version},
                       {a->value - amount, b->value + amount});
          }
        } else if (t == 2) {  // stale writes and erases, duplicate creates
          for (int i = 0; i < 4; ++i) {
            const int k = static_cast<int>(rng() % kKeys);
            const vkv::Version& old = ancient[static_cast<std::size_t>(k)];
            switch (rng() % 3) {
              case 0:
                rec.write(k, old, -1);
                break;
              case 1:
                rec.create(k, 500);
                break;
              default:
                rec.erase(k, old);
                break;
            }
            perturb(rng);
          }
        } else {  // fresh writes, and fresh erases followed by a re-create
          for (int i = 0; i < 3; ++i) {
            const int k = static_cast<int>(rng() % kKeys);
            const auto r = rec.read(k);
            perturb(rng);
            if (!r) {
              rec.create(k, 7);
            } else if (rng() % 3 != 0) {
              rec.write(k, r->version, r->value + 1000);
            } else if (rec.erase(k, r->version)) {
              perturb(rng);
              rec.create(k, r->value);
            }
          }
        }
        helped[static_cast<std::size_t>(t)] = vkv::detail::tx_probe.helps - helps_before;
        // release: the hammer stops after the last recorded thread.
        recorded_left.fetch_sub(1, std::memory_order_release);
      });
    }
    for (auto& th : threads) th.join();
    ++played;
    for (std::uint64_t h : helped) helps += h;

    std::vector<Op> history;
    for (auto& r : recorders) {
      for (const Op& op : r.ops()) history.push_back(op);
    }
    // Hammer ops that began while a commit was in progress: the threads overlapped.
    for (std::uint64_t at : hammer_stamps) {
      for (const Op& op : history) {
        if (op.kind == Kind::transfer && op.call < at && at < op.ret) {
          ++hammer_inside_commits;
          break;
        }
      }
    }
    for (const Op& op : history) {
      if (op.kind == Kind::transfer) {
        if (op.ok) {
          ++commits_ok;
        } else {
          ++commits_failed;
          ASSERT_GE(op.failed_entry, 0) << "a failed commit named no entry of its own";
        }
      } else if (op.kind != Kind::read) {
        ++attacker_ops;
      }
    }
    Checker checker(history, initial);
    ASSERT_TRUE(checker.linearizable()) << "round " << round << " is not linearizable:\n"
                                        << describe(history);
  }
  std::printf(
      "[ attack-lin ] %lld rounds: commits ok %lld, failed %lld; attacker writes %lld; "
      "hammer writes begun inside a commit %llu; commits helped %llu\n",
      static_cast<long long>(played), static_cast<long long>(commits_ok),
      static_cast<long long>(commits_failed), static_cast<long long>(attacker_ops),
      static_cast<unsigned long long>(hammer_inside_commits),
      static_cast<unsigned long long>(helps));
  EXPECT_GT(commits_ok, 0);
  EXPECT_GT(commits_failed, 0);
  EXPECT_GT(attacker_ops, 0);
  // The rounds really overlapped: writes began while commits were in progress. (That a
  // writer lands inside a commit's few-hundred-nanosecond install window, and so helps
  // it, needs a preemption there: on two cores that is rare in rounds this short, so
  // the count is printed, not required; commit_attack_test requires it.)
  EXPECT_GT(hammer_inside_commits, 0u);
}

}  // namespace
