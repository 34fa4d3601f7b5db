// Creates, erases, soft deletes, restores and updates churning on the same few ids
// while readers run (find, visit, find_many, for_each). The ids have realistic lengths
// (short, 16, 36 and 120 characters: common.hpp). Every successful operation is
// counted; the final state must be explained by the counts and by exactly one of the
// recorded writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <barrier>
#include <cstdint>
#include <iostream>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace vkv_test {
namespace {

using ChurnStore = vkv::Store<std::string>;
using Rec = ChurnStore::record_type;

enum Kind { kCreate, kUpdate, kSoftDelete, kRestore, kErase, kKinds };
constexpr int kIds = 6;

struct WriterTally {
  std::array<std::array<std::int64_t, kKinds>, kIds> ok{};  // successes per id and kind
  std::int64_t conflicts = 0, not_found = 0, duplicates = 0, reads = 0, unexpected = 0;
  std::int64_t raced = 0;    // conflicts on a version this thread had just read
  std::vector<Rec> written;  // every record a successful write returned
};

struct ReaderTally {
  std::int64_t reads = 0, violations = 0;
};

std::string id_name(int i) { return vkv_test::realistic_key("item-" + std::to_string(i), i); }

// What a reader may see of any record at any time.
bool plausible(const Rec& r, bool include_deleted) {
  return r.revision >= 1 && !r.version.is_nil() && (include_deleted || !r.deleted) &&
         !r.value.empty() && r.value[0] == 'w';
}

TEST(StressChurn, LifecycleCountsExplainFinalState) {
  const int writers = 4, readers = 2;
  const std::int64_t per_writer = scaled(20000, 8), per_reader = scaled(20000, 8);
  ChurnStore store;
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back(id_name(i));

  std::vector<WriterTally> wt(writers);
  std::vector<ReaderTally> rt(readers);
  std::barrier start(writers + readers);
  Overlap overlap(writers + readers);
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(777 + t);
      WriterTally& me = wt[t];
      me.written.reserve(static_cast<std::size_t>(per_writer));
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < per_writer; ++i) {
        const int id = static_cast<int>(rng() % kIds);
        const std::string value = "w" + std::to_string(t) + "-" + std::to_string(i);
        const unsigned pick = rng() % 100;
        const Kind kind = pick < 25   ? kCreate
                          : pick < 45 ? kUpdate
                          : pick < 65 ? kSoftDelete
                          : pick < 85 ? kRestore
                                      : kErase;
        vkv::Version expected;
        vkv::Result<Rec> r = [&] {
          if (kind == kCreate) return store.try_create(ids[id], value);
          const auto cur = store.find(ids[id], vkv::ReadOptions{true});
          ++me.reads;
          // Now and then give the CPU away between the read and the write, so that
          // versions go stale under real races even when the threads rarely run in
          // parallel (a loaded two-core machine).
          if (i % 8 == 0) std::this_thread::yield();
          // Mostly the version just read; sometimes nil, to hit the failure paths.
          if (cur && rng() % 8 != 0) expected = cur->version;
          switch (kind) {
            case kUpdate:
              return store.try_update_with_version(ids[id], expected, value,
                                                   vkv::WriteOptions{rng() % 2 == 0});
            case kSoftDelete:
              return store.try_soft_delete(ids[id], expected);
            case kRestore:
              return store.try_restore(ids[id], expected);
            default:
              return store.try_erase(ids[id], expected);
          }
        }();
        overlap.step(t);
        if (r) {
          ++me.ok[id][kind];
          if (kind != kErase) me.written.push_back(r.value());
          continue;
        }
        switch (r.error()) {
          case vkv::Errc::conflict:
            ++me.conflicts;
            if (!expected.is_nil()) ++me.raced;  // another writer got in after our read
            if (!r.current() || r.current()->version == expected) ++me.unexpected;
            break;
          case vkv::Errc::not_found:
            ++me.not_found;
            break;
          case vkv::Errc::duplicate_key:
            ++me.duplicates;
            if (kind != kCreate) ++me.unexpected;
            break;
          case vkv::Errc::unavailable:  // remote stores only
          case vkv::Errc::unknown_outcome:
            ++me.unexpected;
            break;
        }
      }
    });
  }
  for (int t = 0; t < readers; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(31 + t);
      ReaderTally& me = rt[t];
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < per_reader; ++i) {
        overlap.step(writers + t);
        if (i % 16 == 0) {
          const auto all = store.find_many(std::span<const std::string>(ids));
          me.reads += kIds;
          if (all.size() != ids.size()) ++me.violations;
          for (std::size_t k = 0; k < all.size(); ++k) {
            if (all[k] && (!plausible(*all[k], false) || all[k]->id != ids[k])) ++me.violations;
          }
          continue;
        }
        const bool include = rng() % 2 == 0;
        if (i % 16 == 8) {
          // for_each copies each entry's key out of the index (long keys: heap memory
          // that must outlive an erase racing the copy). It counts no reads.
          store.for_each(
              [&](const Rec& r) {
                if (!plausible(r, include) ||
                    std::find(ids.begin(), ids.end(), r.id) == ids.end()) {
                  ++me.violations;
                }
              },
              vkv::ReadOptions{include});
          continue;
        }
        const int id = static_cast<int>(rng() % kIds);
        if (i % 16 == 4) {
          store.visit(
              ids[id],
              [&](const vkv::RecordView<std::string>& v) {
                if (v.id != ids[id] || v.value.empty() || v.value[0] != 'w') ++me.violations;
              },
              vkv::ReadOptions{include});
          ++me.reads;
          continue;
        }
        const auto r = store.find(ids[id], vkv::ReadOptions{include});
        ++me.reads;
        if (r && (!plausible(*r, include) || r->id != ids[id])) ++me.violations;
      }
    });
  }
  for (std::thread& th : threads) th.join();

  std::unordered_map<vkv::Version, const Rec*> by_version;
  std::array<std::int64_t, kKinds> totals{};
  std::int64_t conflicts = 0, not_found = 0, reads = 0, raced = 0;
  for (const WriterTally& w : wt) {
    EXPECT_EQ(w.unexpected, 0);
    conflicts += w.conflicts;
    raced += w.raced;
    not_found += w.not_found;
    reads += w.reads;
    for (const Rec& r : w.written) {
      EXPECT_TRUE(by_version.emplace(r.version, &r).second) << "version issued twice";
    }
  }
  for (const ReaderTally& r : rt) {
    EXPECT_EQ(r.violations, 0);
    reads += r.reads;
  }

  std::size_t live = 0;
  for (int id = 0; id < kIds; ++id) {
    std::array<std::int64_t, kKinds> n{};
    for (const WriterTally& w : wt) {
      for (int k = 0; k < kKinds; ++k) n[k] += w.ok[id][k];
    }
    for (int k = 0; k < kKinds; ++k) totals[k] += n[k];
    const std::int64_t incarnations = n[kCreate] - n[kErase];
    const auto rec = store.find(ids[id], vkv::ReadOptions{true});
    ++reads;
    ASSERT_TRUE(incarnations == 0 || incarnations == 1) << ids[id] << ": " << incarnations;
    ASSERT_EQ(rec.has_value(), incarnations == 1) << ids[id];
    if (!rec) continue;
    // The final record is exactly what its last successful write reported.
    const auto it = by_version.find(rec->version);
    ASSERT_NE(it, by_version.end()) << ids[id] << ": final version was never returned";
    EXPECT_EQ(it->second->id, rec->id);
    EXPECT_EQ(it->second->value, rec->value);
    EXPECT_EQ(it->second->revision, rec->revision);
    EXPECT_EQ(it->second->deleted, rec->deleted);
    live += rec->deleted ? 0 : 1;
  }
  EXPECT_EQ(store.size(), live);
  // The workload must reach every kind of success, or the invariants are vacuous.
  for (int k = 0; k < kKinds; ++k) EXPECT_GT(totals[k], 0) << "kind " << k;

  const vkv::StoreStats stats = store.stats();
  EXPECT_EQ(stats.creates, static_cast<std::uint64_t>(totals[kCreate]));
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(totals[kUpdate] + totals[kSoftDelete] +
                                                     totals[kRestore] + totals[kErase]));
  EXPECT_EQ(stats.conflicts, static_cast<std::uint64_t>(conflicts));
  EXPECT_EQ(stats.not_found, static_cast<std::uint64_t>(not_found));
  EXPECT_EQ(stats.reads, static_cast<std::uint64_t>(reads));
  std::cout << "[churn] creates " << totals[kCreate] << ", updates " << totals[kUpdate]
            << ", soft deletes " << totals[kSoftDelete] << ", restores " << totals[kRestore]
            << ", erases " << totals[kErase] << ", conflicts " << conflicts << ", not found "
            << not_found << " (" << raced << " on a version just read), " << overlap.overlapping()
            << " threads saw others progress during their run\n";
  // The threads really raced: versions went stale between a read and the write after it.
  EXPECT_GT(raced, 0) << "no write lost a race: the writers did not overlap";
  EXPECT_GT(overlap.overlapping(), 0) << "the threads ran one after another";
}

}  // namespace
}  // namespace vkv_test
