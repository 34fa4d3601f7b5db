// Checked multi-threaded runs of the single-record Store contract (include/vkv/store.hpp):
// one compare-and-swap decides each write (exactly one winner per race), readers never
// see torn values or a version paired with two different states, create races have one
// winner, and versions issued concurrently are all distinct.
//
// Every test uses fixed seeds, counts its operations and checks invariants at the end.
// Iteration counts scale with VKV_STRESS_SCALE (a positive number, default 1); sanitizer
// builds divide the defaults so that the CI jobs stay within their time budget.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace {

using vkv_test::Overlap;

#if defined(VKV_TSAN) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr double kSanitizerDivisor = 8.0;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr double kSanitizerDivisor = 8.0;
#else
constexpr double kSanitizerDivisor = 1.0;
#endif
#else
constexpr double kSanitizerDivisor = 1.0;
#endif

// `base` scaled by VKV_STRESS_SCALE and the sanitizer divisor, never below `floor`.
int scaled(int base, int floor = 1) {
  double scale = 1.0;
  if (const char* env = std::getenv("VKV_STRESS_SCALE")) {
    double parsed = std::strtod(env, nullptr);
    if (parsed > 0) scale = parsed;
  }
  double n = base * scale / kSanitizerDivisor;
  return n < floor ? floor : static_cast<int>(n);
}

// ---------------------------------------------------------------- exactly one winner

struct Claim {
  int thread = -1;
  int round = -1;
  friend bool operator==(const Claim&, const Claim&) = default;
};

// kThreads threads race every round to write the same record from the same version. The
// barrier's completion step reads the version once per round, before releasing anyone,
// so every racer starts from the same expected version.
TEST(RaceTest, ExactlyOneWinnerPerRoundFromTheSameVersion) {
  constexpr int kThreads = 8;
  const int rounds = scaled(1000, 50);

  // on_conflict runs on the losing threads concurrently: relaxed is enough for a counter
  // that is only read after join() (which synchronises).
  std::atomic<std::uint64_t> conflict_events{0};
  vkv::StoreOptions options;
  options.entity_type = "Hot";
  options.on_conflict = [&](const vkv::ConflictEvent&) {
    conflict_events.fetch_add(1, std::memory_order_relaxed);
  };
  vkv::Store<Claim> store(options);
  auto initial = store.create("hot", Claim{});

  // Written only by the completion step; the barrier orders it before every racer's read.
  vkv::Version round_version = initial.version;
  std::barrier sync(kThreads, [&]() noexcept {
    auto now = store.find("hot");
    round_version = now ? now->version : vkv::Version{};
  });

  // Per round and thread: did it win, and which version did it see as the outcome (its
  // own new version if it won, current()->version if it lost). Each cell has one writer.
  std::vector<std::vector<char>> won(rounds, std::vector<char>(kThreads, 0));
  std::vector<std::vector<vkv::Version>> outcome(rounds, std::vector<vkv::Version>(kThreads));
  std::vector<std::vector<char>> bad(rounds, std::vector<char>(kThreads, 0));

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        sync.arrive_and_wait();
        const vkv::Version expected = round_version;
        // Alternate the write path so both CAS users are raced.
        auto result = (r % 2 == 0) ? store.try_update_with_version("hot", expected, Claim{t, r})
                                   : store.try_patch_with_version("hot", expected, [&](Claim& c) {
                                       c = Claim{t, r};
                                     });
        if (result.ok()) {
          won[r][t] = 1;
          outcome[r][t] = result.value().version;
          if (result.value().value != (Claim{t, r}) ||
              result.value().revision != static_cast<std::uint64_t>(r) + 2) {
            bad[r][t] = 1;
          }
        } else if (result.error() == vkv::Errc::conflict && result.current()) {
          outcome[r][t] = result.current()->version;
          // The record as it is now: this round's winner (only one write per round).
          if (result.current()->revision != static_cast<std::uint64_t>(r) + 2 ||
              result.current()->value.round != r) {
            bad[r][t] = 1;
          }
        } else {
          bad[r][t] = 1;  // not_found, or a conflict without current()
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  int rounds_with_one_winner = 0;
  for (int r = 0; r < rounds; ++r) {
    int winners = 0;
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      winners += won[r][t];
      if (won[r][t]) winner = t;
      EXPECT_EQ(bad[r][t], 0) << "round " << r << " thread " << t;
    }
    EXPECT_EQ(winners, 1) << "round " << r;
    if (winners == 1) {
      ++rounds_with_one_winner;
      for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(outcome[r][t], outcome[r][winner])
            << "round " << r << ": thread " << t << " saw another outcome than the winner's";
      }
    }
  }
  EXPECT_EQ(rounds_with_one_winner, rounds);

  auto final_record = store.find("hot");
  ASSERT_TRUE(final_record);
  EXPECT_EQ(final_record->revision, static_cast<std::uint64_t>(rounds) + 1);
  EXPECT_EQ(final_record->value.round, rounds - 1);
  auto stats = store.stats();
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(rounds));
  EXPECT_EQ(stats.conflicts, static_cast<std::uint64_t>(rounds) * (kThreads - 1));
  EXPECT_EQ(conflict_events.load(std::memory_order_relaxed), stats.conflicts);
  EXPECT_EQ(stats.not_found, 0u);
}

// ---------------------------------------------------------------- create races

TEST(RaceTest, ConcurrentCreatesOfOneIdHaveOneWinner) {
  constexpr int kThreads = 4;
  const int rounds = scaled(400, 20);
  vkv::Store<int> store;
  std::barrier sync(kThreads);
  std::vector<std::vector<char>> won(rounds, std::vector<char>(kThreads, 0));
  std::vector<std::vector<char>> duplicate(rounds, std::vector<char>(kThreads, 0));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r) {
        sync.arrive_and_wait();
        auto result = store.try_create(vkv_test::realistic_key("id" + std::to_string(r), r), t);
        if (result) {
          won[r][t] = 1;
        } else if (result.error() == vkv::Errc::duplicate_key) {
          duplicate[r][t] = 1;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int r = 0; r < rounds; ++r) {
    int winners = 0;
    int winner = -1;
    for (int t = 0; t < kThreads; ++t) {
      winners += won[r][t];
      if (won[r][t]) winner = t;
      EXPECT_EQ(won[r][t] + duplicate[r][t], 1) << "round " << r << " thread " << t;
    }
    ASSERT_EQ(winners, 1) << "round " << r;
    auto rec = store.find(vkv_test::realistic_key("id" + std::to_string(r), r));
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->value, winner) << "the winner's value persisted";
    EXPECT_EQ(rec->revision, 1u);
  }
  EXPECT_EQ(store.size(), static_cast<std::size_t>(rounds));
  EXPECT_EQ(store.stats().creates, static_cast<std::uint64_t>(rounds));
}

// ---------------------------------------------------------------- no torn values

// Every field derives from n, and writers keep n == revision, so a reader can check a
// snapshot on its own. The text is long enough to live on the heap (no SSO), so a torn
// read would mix two allocations.
struct Derived {
  std::int64_t n = 0;
  std::int64_t twice = 0;
  std::string text;

  static Derived of(std::int64_t n) {
    return Derived{n, 2 * n, "value-" + std::to_string(n) + std::string(40, '#')};
  }
  bool consistent() const { return *this == of(n); }
  friend bool operator==(const Derived&, const Derived&) = default;
};

TEST(RaceTest, ReadersNeverSeeTornValuesAndVersionsMoveWithRevisions) {
  constexpr int kKeys = 4;
  constexpr int kWriters = 2;
  constexpr int kReaders = 2;
  const int writes_per_writer = scaled(20000, 500);

  vkv::Store<Derived, int> store;
  // Every committed (version -> n), from create and from each writer; merged after join.
  std::vector<std::vector<std::pair<vkv::Version, std::int64_t>>> committed(kWriters + 1);
  for (int k = 0; k < kKeys; ++k) {
    auto r = store.create(k, Derived::of(1));
    committed[kWriters].emplace_back(r.version, 1);
  }

  // Writers publish "done" with release; readers load with acquire only to stop looping
  // (the final checks happen after join, which synchronises everything).
  std::atomic<int> writers_left{kWriters};
  std::vector<std::vector<std::uint64_t>> successes(kWriters, std::vector<std::uint64_t>(kKeys));
  std::vector<int> writer_errors(kWriters, 0);
  std::vector<std::uint64_t> attempts(kWriters, 0);
  std::atomic<bool> conflicted{false};

  struct ReaderLog {
    std::uint64_t reads = 0;
    std::uint64_t torn = 0;            // inconsistent fields, or n != revision
    std::uint64_t went_backwards = 0;  // revision of a key decreased for this reader
    std::uint64_t version_reused = 0;  // same version seen with two different states
    std::unordered_map<vkv::Version, std::int64_t> seen;
  };
  std::vector<ReaderLog> logs(kReaders);

  std::barrier start(kWriters + kReaders);
  Overlap overlap(kWriters + kReaders);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(1234 + w);
      std::uniform_int_distribution<int> pick(0, kKeys - 1);
      start.arrive_and_wait();
      // writes_per_writer attempts, then more (at most 100 times as many) until some
      // write has conflicted: on a loaded machine the writers may otherwise run one after
      // the other, and the test would prove nothing about racing writes.
      int i = 0;
      for (; i < writes_per_writer ||
             (!conflicted.load(std::memory_order_relaxed) && i < 100 * writes_per_writer);
           ++i) {
        overlap.step(w);
        int key = pick(rng);
        auto cur = store.find(key);
        if (!cur) {
          ++writer_errors[w];
          continue;
        }
        std::int64_t next = static_cast<std::int64_t>(cur->revision) + 1;
        auto result = (i % 3 == 0)
                          ? store.try_patch_with_version(
                                key, cur->version, [](Derived& d) { d = Derived::of(d.n + 1); })
                          : store.try_update_with_version(key, cur->version, Derived::of(next));
        if (result) {
          ++successes[w][key];
          committed[w].emplace_back(result.value().version, result.value().value.n);
          if (result.value().revision != static_cast<std::uint64_t>(next) ||
              !result.value().value.consistent() || result.value().value.n != next) {
            ++writer_errors[w];
          }
        } else if (result.error() != vkv::Errc::conflict) {
          ++writer_errors[w];
        } else {
          // Relaxed: a hint to stop the extra attempts, ordering nothing.
          conflicted.store(true, std::memory_order_relaxed);
        }
      }
      attempts[w] = i;
      writers_left.fetch_sub(1, std::memory_order_release);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      ReaderLog& log = logs[r];
      std::vector<std::uint64_t> last_revision(kKeys, 0);
      std::mt19937 rng(99 + r);
      std::uniform_int_distribution<int> pick(0, kKeys - 1);
      auto check = [&](int key, const vkv::Record<Derived, int>& rec) {
        ++log.reads;
        if (!rec.value.consistent() || rec.value.n != static_cast<std::int64_t>(rec.revision)) {
          ++log.torn;
        }
        if (rec.revision < last_revision[key]) ++log.went_backwards;
        last_revision[key] = rec.revision;
        auto [it, inserted] = log.seen.emplace(rec.version, rec.value.n);
        if (!inserted && it->second != rec.value.n) ++log.version_reused;
      };
      // Keep reading until both writers are done; at least one full pass either way.
      int iteration = 0;
      start.arrive_and_wait();
      do {
        overlap.step(kWriters + r);
        if (++iteration % 64 == 0) {
          // for_each is weakly consistent, but each record it hands out is one snapshot.
          store.for_each([&](const vkv::Record<Derived, int>& rec) { check(rec.id, rec); });
        } else {
          int key = pick(rng);
          auto rec = store.find(key);
          if (rec) check(key, *rec);
        }
      } while (writers_left.load(std::memory_order_acquire) > 0);
    });
  }
  for (auto& th : threads) th.join();

  std::unordered_map<vkv::Version, std::int64_t> all_committed;
  std::uint64_t duplicate_versions = 0;
  for (const auto& list : committed) {
    for (const auto& [version, n] : list) {
      if (!all_committed.emplace(version, n).second) ++duplicate_versions;
    }
  }
  EXPECT_EQ(duplicate_versions, 0u) << "the store issued a version twice";

  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(writer_errors[w], 0) << "writer " << w;
  for (int r = 0; r < kReaders; ++r) {
    const auto& log = logs[r];
    EXPECT_GT(log.reads, 0u);
    EXPECT_EQ(log.torn, 0u) << "reader " << r;
    EXPECT_EQ(log.went_backwards, 0u) << "reader " << r;
    EXPECT_EQ(log.version_reused, 0u) << "reader " << r;
    std::uint64_t unknown = 0;
    for (const auto& [version, n] : log.seen) {
      auto it = all_committed.find(version);
      if (it == all_committed.end() || it->second != n) ++unknown;
    }
    EXPECT_EQ(unknown, 0u) << "reader " << r << " saw states no writer committed";
  }

  std::uint64_t total_successes = 0;
  for (int k = 0; k < kKeys; ++k) {
    std::uint64_t wins = 0;
    for (int w = 0; w < kWriters; ++w) wins += successes[w][k];
    total_successes += wins;
    auto rec = store.find(k);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->revision, wins + 1) << "key " << k << ": a write was lost or invented";
    EXPECT_TRUE(rec->value.consistent());
    EXPECT_EQ(rec->value.n, static_cast<std::int64_t>(rec->revision));
  }
  EXPECT_GT(total_successes, 0u);
  EXPECT_EQ(store.stats().writes, total_successes);
  std::uint64_t total_attempts = 0;
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_GE(attempts[w], static_cast<std::uint64_t>(writes_per_writer));
    total_attempts += attempts[w];
  }
  EXPECT_EQ(store.stats().writes + store.stats().conflicts, total_attempts);
  // The writers really raced each other, and readers read while they wrote.
  EXPECT_GT(store.stats().conflicts, 0u) << "no write ever conflicted: the writers did not overlap";
  EXPECT_GT(overlap.overlapping(), 0) << "the threads ran one after another";
}

// ---------------------------------------------------------------- distinct versions

TEST(RaceTest, ConcurrentlyIssuedVersionsAreAllDistinct) {
  constexpr int kThreads = 4;
  const int per_thread = scaled(50000, 2000);  // 200k versions in all by default
  vkv::Store<std::uint64_t, int> store;
  std::vector<std::vector<vkv::Version>> issued(kThreads);
  std::vector<int> errors(kThreads, 0);
  std::barrier start(kThreads);
  Overlap overlap(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto& mine = issued[t];
      mine.reserve(per_thread);
      start.arrive_and_wait();
      // Each thread owns one key, so every write succeeds and every version is new;
      // the version generator is what is raced.
      auto rec = store.create(t, 0);
      mine.push_back(rec.version);
      for (int i = 1; i < per_thread; ++i) {
        auto next = store.try_update_with_version(t, rec.version, static_cast<std::uint64_t>(i));
        if (!next) {
          ++errors[t];
          break;
        }
        rec = std::move(next).value();
        mine.push_back(rec.version);
        overlap.step(t);
      }
    });
  }
  for (auto& th : threads) th.join();

  std::unordered_set<vkv::Version> all;
  std::size_t total = 0;
  std::size_t bad_shape = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], 0) << "thread " << t;
    EXPECT_EQ(issued[t].size(), static_cast<std::size_t>(per_thread));
    total += issued[t].size();
    for (const auto& v : issued[t]) {
      all.insert(v);
      const auto& d = v.uuid().data;
      int version_nibble = d[6] >> 4;
      if ((version_nibble != 4 && version_nibble != 7) || (d[8] & 0xC0) != 0x80) ++bad_shape;
    }
  }
  EXPECT_EQ(all.size(), total) << (total - all.size()) << " duplicate versions";
  EXPECT_EQ(bad_shape, 0u);
  EXPECT_GT(overlap.overlapping(), 0) << "the threads issued their versions one after another";
}

}  // namespace
