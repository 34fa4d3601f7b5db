// Garbage is bounded in bytes (detail/epoch.hpp, "Bounds"): with 1 MiB values and a
// reader stalled inside a Guard (a visit callback), writers wait once retired memory
// passes the limit, instead of growing it without bound; once the reader leaves, they
// go on, and no write is lost.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "vkv/detail/epoch.hpp"
#include "vkv/vkv.hpp"

namespace {

namespace epoch = vkv::detail::epoch;

constexpr std::size_t kValueBytes = std::size_t{1} << 20;

std::string value_of(int writer, int n) {
  std::string v(kValueBytes, static_cast<char>('a' + (writer * 7 + n) % 26));
  v[0] = static_cast<char>('0' + writer);
  return v;
}

TEST(GarbageBytes, StalledReaderMakesWritersWaitAtTheBound) {
  ASSERT_EQ(epoch::drain(), 0u) << "garbage left by an earlier test";
  const std::size_t before_limit = epoch::garbage_limit();
  const std::size_t limit = std::size_t{24} << 20;  // 24 MiB
  epoch::set_garbage_limit(limit);
  constexpr int kWriters = 2;
  constexpr int kWrites = 60;  // 60 MiB per writer: well past the bound
  {
    vkv::Store<std::string> store;
    store.create("held", std::string(16, 'h'));
    for (int w = 0; w < kWriters; ++w) store.create("w" + std::to_string(w), value_of(w, 0));

    std::atomic<bool> reader_inside{false}, release{false};
    std::thread reader([&] {
      store.visit("held", [&](const auto&) {
        // acq_rel/acquire: the flags order the test's steps; no data hangs on them.
        reader_inside.store(true, std::memory_order_release);
        while (!release.load(std::memory_order_acquire)) std::this_thread::yield();
      });
    });
    while (!reader_inside.load(std::memory_order_acquire)) std::this_thread::yield();

    std::atomic<int> writes_done{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        const std::string id = "w" + std::to_string(w);
        for (int n = 1; n <= kWrites; ++n) {
          store.update_with_retry(id, [&](std::string& v) { v = value_of(w, n); });
          writes_done.fetch_add(1, std::memory_order_relaxed);  // relaxed: progress count
        }
      });
    }
    // Watch the garbage until the writers have hit the bound and stopped: their writes
    // stay short of all of them while the reader is inside.
    std::size_t peak = 0;
    while (epoch::pending_bytes() < limit - 2 * kValueBytes) {
      ASSERT_LT(writes_done.load(std::memory_order_relaxed), kWriters * kWrites)
          << "every write went through although nothing could be freed";
      std::this_thread::yield();
    }
    for (int i = 0; i < 20000; ++i) {
      peak = std::max(peak, epoch::pending_bytes());
      std::this_thread::yield();
    }
    const int stalled_at = writes_done.load(std::memory_order_relaxed);
    EXPECT_LT(stalled_at, kWriters * kWrites) << "writers did not wait at the bound";
    release.store(true, std::memory_order_release);
    reader.join();
    for (auto& t : writers) t.join();
    peak = std::max(peak, epoch::pending_bytes());
    std::cout << "[garbage] limit " << (limit >> 20) << " MiB, peak retired " << (peak >> 20)
              << " MiB with 1 MiB values and a stalled reader; writers "
              << "stalled after " << stalled_at << " of " << kWriters * kWrites << " writes\n";
    // The bound, plus one value in flight per writer and the collect granularity.
    EXPECT_LE(peak, limit + kWriters * (2 * kValueBytes + epoch::kCollectBytes));
    // Nothing lost: every writer's last value and revision.
    for (int w = 0; w < kWriters; ++w) {
      const auto r = store.find("w" + std::to_string(w));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->revision, 1u + kWrites);
      EXPECT_EQ(r->value, value_of(w, kWrites));
    }
  }
  epoch::set_garbage_limit(before_limit);
  EXPECT_EQ(epoch::drain(), 0u);
}

}  // namespace
