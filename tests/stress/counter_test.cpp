// Counters incremented by many threads through update_with_version, retried by hand:
// no increment may be lost or doubled, and every write bumps the revision by one.
#include <gtest/gtest.h>

#include <barrier>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace vkv_test {
namespace {

using CounterStore = vkv::Store<std::int64_t>;

struct PerThread {
  std::vector<std::int64_t> increments;  // per counter
  std::int64_t conflicts = 0;
  std::int64_t bad_results = 0;
};

// `use_try` picks the non-throwing API (conflict Result carries the current record) or
// the throwing one (OptimisticLockError, then a fresh find).
void run_counters(bool use_try) {
  const int writers = 4;
  const int readers = 2;
  const int counters = 3;
  const std::int64_t per_writer = scaled(20000, 8);
  const std::int64_t per_reader = scaled(40000, 8);

  CounterStore store;
  std::vector<std::string> ids;
  for (int c = 0; c < counters; ++c) {
    ids.push_back(vkv_test::realistic_key("counter-" + std::to_string(c), c));
    store.create(ids.back(), 0);
  }

  std::vector<PerThread> results(writers);
  for (PerThread& r : results) r.increments.assign(counters, 0);
  std::vector<std::int64_t> reader_violations(readers, 0);
  std::barrier start(writers + readers);
  Overlap overlap(writers + readers);
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      PerThread& mine = results[t];
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < per_writer; ++i) {
        const int c = static_cast<int>(rng() % counters);
        std::optional<CounterStore::record_type> cur = store.find(ids[c]);
        // Now and then give the CPU away between the read and the write, so the
        // retry path runs even when the threads rarely run in parallel.
        if (i % 8 == 0) std::this_thread::yield();
        for (;;) {
          if (use_try) {
            auto r = store.try_update_with_version(ids[c], cur->version, cur->value + 1);
            if (r) break;
            if (r.error() != vkv::Errc::conflict || !r.current()) {
              ++mine.bad_results;  // counted as a violation; the increment is then lost
              break;
            }
            cur = *r.current();
          } else {
            try {
              store.update_with_version(ids[c], cur->version, cur->value + 1);
              break;
            } catch (const vkv::OptimisticLockError&) {
              cur = store.find(ids[c]);
            }
          }
          ++mine.conflicts;
        }
        ++mine.increments[c];
        overlap.step(t);
      }
    });
  }
  for (int t = 0; t < readers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(99 + t);
      std::vector<std::uint64_t> last_revision(counters, 0);
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < per_reader; ++i) {
        const int c = static_cast<int>(rng() % counters);
        const auto r = store.find(ids[c]);
        // Every write adds exactly one: a torn or lost write breaks value == revision - 1,
        // a stale read after a newer one breaks monotonic revisions.
        if (!r || r->value != static_cast<std::int64_t>(r->revision) - 1 ||
            r->revision < last_revision[c]) {
          ++reader_violations[t];
        }
        if (r) last_revision[c] = r->revision;
        overlap.step(writers + t);
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::int64_t total = 0, conflicts = 0;
  for (int c = 0; c < counters; ++c) {
    std::int64_t expected = 0;
    for (const PerThread& r : results) expected += r.increments[c];
    const auto rec = store.find(ids[c]);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->value, expected) << ids[c];
    EXPECT_EQ(rec->revision, static_cast<std::uint64_t>(expected) + 1) << ids[c];
    EXPECT_FALSE(rec->deleted);
    total += rec->value;
  }
  for (const PerThread& r : results) {
    conflicts += r.conflicts;
    EXPECT_EQ(r.bad_results, 0);
  }
  for (std::int64_t v : reader_violations) EXPECT_EQ(v, 0);
  EXPECT_EQ(total, writers * per_writer);

  const vkv::StoreStats stats = store.stats();
  EXPECT_EQ(stats.creates, static_cast<std::uint64_t>(counters));
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(total));
  EXPECT_EQ(stats.conflicts, static_cast<std::uint64_t>(conflicts));
  EXPECT_EQ(stats.not_found, 0u);
  // One find per increment (plus one per conflict with the throwing API), the readers'
  // finds, and the final check's.
  const std::int64_t finds =
      writers * per_writer + (use_try ? 0 : conflicts) + readers * per_reader + counters;
  EXPECT_EQ(stats.reads, static_cast<std::uint64_t>(finds));
  std::cout << "[counter] " << total << " increments, " << conflicts << " conflicts retried, "
            << overlap.overlapping() << " of " << writers + readers
            << " threads saw others progress during their run\n";
  // The threads really raced: a version read went stale before its write.
  EXPECT_GT(conflicts, 0) << "no write ever conflicted: the writers did not overlap";
  EXPECT_GT(overlap.overlapping(), 0) << "the threads ran one after another";
}

TEST(StressCounter, TryUpdateRetriedByHand) { run_counters(true); }
TEST(StressCounter, ThrowingUpdateRetriedByHand) { run_counters(false); }

}  // namespace
}  // namespace vkv_test
