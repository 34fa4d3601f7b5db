// Reclaiming is linear in what it frees (detail/epoch.hpp, invariant 7): a backlog of
// 20,000 retired nodes built behind a parked reader, plus the lists of eight threads
// that then park, is freed with a bounded number of entries examined and moved per
// object freed. A budgeted pass that scanned and compacted a whole list would examine
// a number of entries growing with the square of the backlog. epoch::reclaim_stats()
// is the hook that counts it.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vkv/detail/epoch.hpp"
#include "vkv/vkv.hpp"

namespace {

namespace epoch = vkv::detail::epoch;

constexpr int kBacklog = 20000;  // writes while the reader is parked
constexpr int kAfter = 20000;    // writes after it left
constexpr int kIdleThreads = 8;
constexpr int kIdleWrites = 300;

// A 100-character key, and values that own heap memory.
std::string long_key(int n) { return std::string(96, 'k') + std::to_string(1000 + n); }
std::string value_of(int n) {
  return "value-with-heap-storage-" + std::to_string(n) + "-xxxxxxxxx";
}

TEST(GarbageDrain, FreeingIsLinearInWhatIsFreed) {
  ASSERT_EQ(epoch::drain(), 0u) << "garbage left by an earlier test";
  const std::size_t before_limit = epoch::garbage_limit();
  epoch::set_garbage_limit(std::size_t{1} << 30);  // no throttling: only reclamation
  const epoch::ReclaimStats before = epoch::reclaim_stats();
  {
    vkv::Store<std::string> store;
    for (int t = 0; t <= kIdleThreads; ++t) store.create(long_key(t), value_of(0));
    store.create("held", "h");

    std::mutex mutex;
    std::condition_variable cv;
    bool reader_inside = false, release_reader = false, release_idle = false;
    int parked = 0;
    std::thread reader([&] {
      store.visit("held", [&](const auto&) {
        std::unique_lock lock(mutex);
        reader_inside = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release_reader; });
      });
    });
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return reader_inside; });
    }
    // The backlog: nothing retired from here on can be freed while the reader stays.
    for (int n = 1; n <= kBacklog; ++n) {
      store.update_with_retry(long_key(0), [&](std::string& v) { v = value_of(n); });
    }
    std::vector<std::thread> idle;
    for (int t = 1; t <= kIdleThreads; ++t) {
      idle.emplace_back([&, t] {
        for (int n = 1; n <= kIdleWrites; ++n) {
          store.update_with_retry(long_key(t), [&](std::string& v) { v = value_of(n); });
        }
        std::unique_lock lock(mutex);
        ++parked;
        cv.notify_all();
        cv.wait(lock, [&] { return release_idle; });
      });
    }
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return parked == kIdleThreads; });
      release_reader = true;
    }
    cv.notify_all();
    reader.join();
    const std::size_t backlog = epoch::pending();
    EXPECT_GE(backlog, static_cast<std::size_t>(kBacklog + kIdleThreads * kIdleWrites));
    // The backlog is freed by this thread's collects, then drain() frees the rest,
    // including the parked threads' lists.
    for (int n = 1; n <= kAfter; ++n) {
      store.update_with_retry(long_key(0), [&](std::string& v) { v = value_of(kBacklog + n); });
    }
    EXPECT_EQ(epoch::drain(), 0u);
    {
      std::lock_guard lock(mutex);
      release_idle = true;
    }
    cv.notify_all();
    for (auto& t : idle) t.join();
  }
  const epoch::ReclaimStats after = epoch::reclaim_stats();
  const std::uint64_t examined = after.examined - before.examined;
  const std::uint64_t moved = after.moved - before.moved;
  const std::uint64_t freed = after.freed - before.freed;
  const std::uint64_t writes = kBacklog + kAfter + kIdleThreads * kIdleWrites;
  std::cout << "[garbage] freed " << freed << " objects, examined " << examined << ", moved "
            << moved << " (" << writes << " writes)\n";
  EXPECT_GE(freed, writes);
  // Each pass examines at most one entry it does not free; a pass runs per collect
  // (at most one per kCollectThreshold retirements) and per drain or steal of a list.
  EXPECT_LE(examined, freed + writes / epoch::kCollectThreshold + 1000);
  // Compaction moves fewer entries than were freed.
  EXPECT_LE(moved, freed);
  epoch::set_garbage_limit(before_limit);
  EXPECT_EQ(epoch::drain(), 0u);
}

}  // namespace
