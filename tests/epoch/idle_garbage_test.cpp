// Idle threads' garbage does not wedge writers: 200 threads each retire a few 4 KiB
// values and then park outside any Guard, holding more garbage than the bound between
// them; one writer then does many writes under that bound. pending_bytes() counts the
// parked threads' lists, so the writer's throttle() must be able to free them
// (epoch::steal_idle()); a throttle that freed only its own list would wait until the
// idle threads exited. A watchdog fails the test instead of hanging it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

constexpr int kIdleThreads = 200;
constexpr int kIdleWrites = 3;  // each retires kIdleWrites values: 200 x 3 x 4 KiB = 2.4 MiB
constexpr int kWrites = 400;    // the writer's: 1.6 MiB more
constexpr std::size_t kValueBytes = 4096;
constexpr std::size_t kLimit = std::size_t{1} << 20;
// The watchdog: far above any run seen (well under a second), only so that a broken
// build fails instead of hanging. Not a timing assertion.
constexpr auto kWatchdog = std::chrono::seconds(120);

// 36-character ids (UUID-shaped).
std::string id_of(int n) {
  std::string id = "7c9e6679-7425-40de-944b-e07fc1f90000";
  const std::string digits = std::to_string(n);
  id.replace(id.size() - digits.size(), digits.size(), digits);
  return id;
}

std::string value_of(int who, int n) {
  std::string v(kValueBytes, static_cast<char>('a' + (who * 7 + n) % 26));
  v[0] = static_cast<char>('0' + who % 10);
  return v;
}

TEST(IdleGarbage, ParkedThreadsListsDoNotWedgeAWriter) {
  ASSERT_EQ(epoch::drain(), 0u) << "garbage left by an earlier test";
  const std::size_t before_limit = epoch::garbage_limit();
  epoch::set_garbage_limit(kLimit);
  {
    vkv::Store<std::string> store;
    for (int t = 0; t <= kIdleThreads; ++t) store.create(id_of(t), value_of(t, 0));

    std::mutex mutex;
    std::condition_variable cv;
    int parked = 0;
    bool release = false;
    bool writer_done = false;
    std::vector<std::thread> idle;
    idle.reserve(kIdleThreads);
    for (int t = 1; t <= kIdleThreads; ++t) {
      idle.emplace_back([&, t] {
        for (int n = 1; n <= kIdleWrites; ++n) {
          store.update_with_retry(id_of(t), [&](std::string& v) { v = value_of(t, n); });
        }
        // Park outside any Guard, keeping the retired values in this thread's list.
        std::unique_lock lock(mutex);
        ++parked;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
      });
    }
    {
      std::unique_lock lock(mutex);
      cv.wait(lock, [&] { return parked == kIdleThreads; });
    }
    const std::size_t idle_bytes = epoch::pending_bytes();
    ASSERT_GT(idle_bytes, kLimit) << "the idle threads should hold more than the bound";

    std::thread writer([&] {
      for (int n = 1; n <= kWrites; ++n) {
        store.update_with_retry(id_of(0), [&](std::string& v) { v = value_of(0, n); });
      }
      std::lock_guard lock(mutex);
      writer_done = true;
      cv.notify_all();
    });
    bool finished;
    {
      std::unique_lock lock(mutex);
      finished = cv.wait_for(lock, kWatchdog, [&] { return writer_done; });
      release = true;  // lets the idle threads exit, so even a wedged writer finishes
    }
    cv.notify_all();
    writer.join();
    for (auto& t : idle) t.join();
    std::cout << "[garbage] " << kIdleThreads << " parked threads held " << (idle_bytes >> 10)
              << " KiB (bound " << (kLimit >> 10) << " KiB); the writer "
              << (finished ? "finished" : "was stuck until they exited") << "\n";
    EXPECT_TRUE(finished) << "the writer waited for idle threads' garbage it could not free";
    const auto r = store.find(id_of(0));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->revision, 1u + kWrites);
    EXPECT_EQ(r->value, value_of(0, kWrites));
    for (int t = 1; t <= kIdleThreads; ++t) {
      const auto idle_record = store.find(id_of(t));
      ASSERT_TRUE(idle_record);
      EXPECT_EQ(idle_record->revision, 1u + kIdleWrites);
    }
  }
  epoch::set_garbage_limit(before_limit);
  EXPECT_EQ(epoch::drain(), 0u);
}

// Owners come back while others free their lists: writers under a small bound throttle
// often, and a throttled writer frees the lists of writers between two writes (or
// throttled themselves), which then enter their next write's Guard and retire again.
// The handshake (epoch.hpp, "Who touches a record's list") must keep each list to one
// thread at a time: TSan checks it, and the counts check that nothing is lost or freed
// twice.
TEST(IdleGarbage, OwnersComingBackRaceWithThieves) {
  ASSERT_EQ(epoch::drain(), 0u) << "garbage left by an earlier test";
  const std::size_t before_limit = epoch::garbage_limit();
  constexpr std::size_t kSmallLimit = std::size_t{256} << 10;
  epoch::set_garbage_limit(kSmallLimit);
  constexpr int kWriters = 4;
  constexpr int kEach = 1500;
  const std::uint64_t stolen_before = epoch::reclaim_stats().stolen;
  {
    vkv::Store<std::string> store;
    for (int w = 0; w < kWriters; ++w) store.create(id_of(w), value_of(w, 0));
    // relaxed: a stop flag and a read count; no data hangs on them.
    std::atomic<bool> stop{false};
    std::atomic<long> reads{0};
    std::thread reader([&] {
      for (int n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        if (store.find(id_of(n % kWriters))) reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        for (int n = 1; n <= kEach; ++n) {
          store.update_with_retry(id_of(w), [&](std::string& v) { v = value_of(w, n); });
        }
      });
    }
    for (auto& t : writers) t.join();
    stop.store(true, std::memory_order_relaxed);
    reader.join();
    for (int w = 0; w < kWriters; ++w) {
      const auto r = store.find(id_of(w));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->revision, 1u + kEach);
      EXPECT_EQ(r->value, value_of(w, kEach));
    }
    EXPECT_GT(reads.load(std::memory_order_relaxed), 0);
  }
  // Not asserted (the scheduler decides whether an owner is outside its Guard when a
  // thief looks): how much the thieves freed.
  std::cout << "[garbage] " << kWriters << " writers under a " << (kSmallLimit >> 10)
            << " KiB bound: " << epoch::reclaim_stats().stolen - stolen_before
            << " objects freed from other threads' lists\n";
  epoch::set_garbage_limit(before_limit);
  EXPECT_EQ(epoch::drain(), 0u);
}

}  // namespace
