// Destroying a store frees every node: live records, and the replaced nodes still
// waiting in the reclamation lists of threads that have already exited.
#include <gtest/gtest.h>

#include <barrier>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace vkv_test {
namespace {

using CountedStore = vkv::Store<Counted>;

// Worker threads write (create, update, soft delete, erase) a shared id space, so
// nodes are retired on every thread; returns the number of successful writes. When
// `overlapping` is given, it receives how many threads saw another make progress
// during their own run (tests/support/stress.hpp, Overlap).
std::int64_t churn(CountedStore& store, int threads, std::int64_t per_thread, int ids,
                   int* overlapping = nullptr) {
  std::vector<std::int64_t> writes(threads, 0);
  std::barrier start(threads);
  Overlap overlap(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(5 + t);
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < per_thread; ++i) {
        const auto n = static_cast<std::int64_t>(rng() % ids);
        const std::string id = vkv_test::realistic_key("n" + std::to_string(n), n);
        const auto cur = store.find(id, vkv::ReadOptions{true});
        // A payload long enough to live on the heap, so a leaked node leaks memory that
        // LeakSanitizer also sees.
        Counted value(i, std::string(40, static_cast<char>('a' + t)));
        bool ok = false;
        if (!cur) {
          ok = store.try_create(id, std::move(value)).ok();
        } else {
          switch (rng() % 4) {
            case 0:
              ok = store.try_erase(id, cur->version).ok();
              break;
            case 1:
              ok = store.try_soft_delete(id, cur->version).ok();
              break;
            default:
              ok = store
                       .try_update_with_version(id, cur->version, std::move(value),
                                                vkv::WriteOptions{true})
                       .ok();
          }
        }
        writes[t] += ok;
        overlap.step(t);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  if (overlapping != nullptr) *overlapping = overlap.overlapping();
  std::int64_t total = 0;
  for (std::int64_t w : writes) total += w;
  return total;
}

TEST(StressTeardown, EveryNodeFreedAfterStoreDestroyedAndDrained) {
  ASSERT_EQ(vkv::detail::epoch::drain(), 0u) << "garbage left by an earlier test";
  ASSERT_EQ(Counted::live(), 0);
  std::int64_t writes = 0;
  int overlapping = 0;
  {
    std::optional<CountedStore> store(std::in_place);
    writes = churn(*store, 4, scaled(20000, 8), 64, &overlapping);
    // Nodes were retired while other threads ran: the epoch had live readers to wait for.
    EXPECT_GT(overlapping, 0) << "the threads ran one after another";
    EXPECT_GT(Counted::live(), 0) << "the store holds records";
    store.reset();  // nothing runs now: the workers are joined
  }
  // The workers have exited; what they retired sits in their records until drained.
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
  EXPECT_EQ(vkv::detail::epoch::pending(), 0u);
  EXPECT_EQ(vkv::detail::epoch::pending_bytes(), 0u);
  EXPECT_EQ(Counted::live(), 0) << "after " << writes << " writes";
  EXPECT_GT(writes, 0);
}

TEST(StressTeardown, ScratchStoresComeAndGoBesideALiveOne) {
  ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
  ASSERT_EQ(Counted::live(), 0);
  // A long-lived store keeps its records while short-lived stores are created,
  // churned by their own threads and destroyed around it.
  CountedStore keeper;
  keeper.create("kept", Counted(1, "x"));
  std::int64_t writes = 0;
  const int cycles = static_cast<int>(scaled(20, 4));
  for (int cycle = 0; cycle < cycles; ++cycle) {
    CountedStore scratch;
    writes += churn(scratch, 3, scaled(500, 4), 8);
    auto kept = keeper.find("kept");
    ASSERT_TRUE(kept.has_value());
    keeper.update_with_version("kept", kept->version, Counted(kept->value.value + 1, "x"));
  }
  const auto kept = keeper.find("kept");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->value.value, 1 + cycles);
  EXPECT_EQ(kept->revision, static_cast<std::uint64_t>(1 + cycles));
  vkv::detail::epoch::drain();
  // `kept` (our copy) and keeper's current node are alive; nothing of the scratch stores.
  EXPECT_EQ(Counted::live(), 2) << "after " << writes << " scratch writes";
}

TEST(StressTeardown, DestroyingAnEmptyOrUntouchedStoreFreesNothingTwice) {
  ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
  { CountedStore untouched; }
  {
    CountedStore one;
    const auto r = one.create("a", Counted(1, "payload"));
    one.erase("a", r.version);
  }
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
  EXPECT_EQ(Counted::live(), 0);
}

}  // namespace
}  // namespace vkv_test
