// The realistic-inputs axis of the test matrix (docs/testing.md, "Realistic inputs"):
// every cell runs the same mixed workload of every operation over
//   key length   short (inside std::string's small buffer), 16, 36 (a UUID), 120;
//   value kind   trivially copyable 40 B, a value owning heap memory, a 64 KiB value;
//   condition    plain; 64 idle threads that each wrote once and park outside any
//                Guard (their retired garbage in their own lists, under a 1 MiB bound);
//                a reader stalled inside visit for the first half of the run.
// Four counter keys are never erased: their final counters must equal the counted
// successful increments (update_with_version, patch, update_with_retry, both records
// of a try_commit). Four churn keys are also erased, created and put (by every worker,
// and in a tight loop by one churner, as under a real delete-heavy load): each must be
// present exactly when its counted creates outnumber its erases. Every id a reader
// sees must be a key, with the value written for it; size() and for_each must agree
// with the live count; after the threads are joined, the epoch drains to 0 bytes.
// Fixed seeds, counted operations; iteration counts scale down under sanitizers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <latch>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "stress/realistic_values.hpp"
#include "support/stress.hpp"

namespace vkv_test::realistic {
namespace {

namespace epoch = vkv::detail::epoch;

enum class Kind { small40, owning, large };
enum class Condition { plain, idle_threads, stalled_reader };

struct Cell {
  std::size_t key_length;
  Kind kind;
  Condition condition;
};

constexpr int kCounterKeys = 4;
constexpr int kChurnKeys = 4;
constexpr int kKeys = kCounterKeys + kChurnKeys;
constexpr int kWorkers = 4;
constexpr int kIdleThreads = 64;

// Keys 0..3 are counters, 4..7 churn. Padded to `length` (never shortened), each with
// a fill of its own, so a freed buffer reused for another key cannot pass for it.
std::vector<std::string> make_keys(std::size_t length) {
  std::vector<std::string> keys;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = (k < kCounterKeys ? "ctr-" : "churn-") + std::to_string(k) + "-";
    if (key.size() < length) key.resize(length, static_cast<char>('a' + k));
    keys.push_back(std::move(key));
  }
  return keys;
}

// One worker's counts, read after join.
struct Tally {
  std::array<std::int64_t, kKeys> increments{};  // counter keys only
  std::array<std::int64_t, kKeys> created{}, erased{}, put_created{};
  std::int64_t reads = 0, bad = 0, commits_tried = 0, increments_ok = 0, ops = 0;
  void counted(std::size_t k) {  // a successful increment of counter key k
    ++increments[k];
    ++increments_ok;
  }
};

template <class V>
class Workload {
 public:
  using StoreT = vkv::Store<V>;

  Workload(const Cell& cell, std::uint64_t seed)
      : cell_(cell),
        seed_(seed),
        keys_(make_keys(cell.key_length)),
        key_set_(keys_.begin(), keys_.end()) {}

  void run() {
    // Large values cost a 64 KiB copy per read: fewer operations keep the cell short.
    const std::int64_t ops = cell_.kind == Kind::large ? scaled(160, 4) : scaled(400, 5);
    const std::size_t limit_before = epoch::garbage_limit();
    // Idle threads: a bound below their garbage (64 x one retired value), so writers
    // wedge unless throttle() can free idle threads' lists. A stalled reader: the stall
    // is lifted by worker 0 halfway, so writers must never wait for it (a bound above
    // anything the run retires).
    if (cell_.condition == Condition::idle_threads) epoch::set_garbage_limit(std::size_t{1} << 20);
    if (cell_.condition == Condition::stalled_reader)
      epoch::set_garbage_limit(std::size_t{1} << 32);
    {
      StoreT store(vkv::StoreOptions{.shards = 2});
      for (const std::string& key : keys_) store.create(key, make<V>(key, 0));
      std::array<std::int64_t, kKeys> idle_increments{};
      std::latch idle_parked(cell_.condition == Condition::idle_threads ? kIdleThreads : 0);
      std::latch release_idle(1);
      std::vector<std::thread> idle;
      if (cell_.condition == Condition::idle_threads) {
        for (int t = 0; t < kIdleThreads; ++t) {
          idle.emplace_back([&, t] {
            const std::string& key = keys_[static_cast<std::size_t>(t % kCounterKeys)];
            store.update_with_retry(
                key, [](V& v) { ++v.counter; }, vkv::RetryPolicy{.max_retries = 1 << 20});
            idle_parked.count_down();
            release_idle.wait();  // parked outside any Guard, its garbage in its list
          });
          idle_increments[static_cast<std::size_t>(t % kCounterKeys)] += 1;
        }
        idle_parked.wait();
      }
      std::latch stalled(cell_.condition == Condition::stalled_reader ? 1 : 0);
      std::latch unstall(1);
      std::atomic<bool> unstalled{false};
      auto lift_stall = [&] {
        // acq_rel: one thread wins the exchange; a latch must not count below zero.
        if (!unstalled.exchange(true, std::memory_order_acq_rel)) unstall.count_down();
      };
      std::thread reader;
      std::int64_t stalled_bad = 0;
      if (cell_.condition == Condition::stalled_reader) {
        reader = std::thread([&] {
          store.visit(keys_[0], [&](const vkv::RecordView<V>& view) {
            stalled.count_down();
            unstall.wait();  // inside visit: its Guard holds back every free
            if (!matches(view.value, view.id)) ++stalled_bad;
          });
        });
        stalled.wait();
      }

      std::vector<Tally> tally(kWorkers);
      std::latch start(kWorkers);
      std::vector<std::thread> workers;
      for (int w = 0; w < kWorkers; ++w) {
        workers.emplace_back([&, w] {
          Tally& me = tally[static_cast<std::size_t>(w)];
          std::mt19937_64 rng(seed_ * 97 + static_cast<std::uint64_t>(w));
          start.arrive_and_wait();
          for (std::int64_t i = 0; i < ops; ++i) {
            if (w == 0 && i == ops / 2 && cell_.condition == Condition::stalled_reader) {
              lift_stall();
            }
            if (w == kWorkers - 1) {
              churn(store, rng, me);  // erase and re-create: entries freed under readers
            } else {
              step(store, rng, me);
            }
            ++me.ops;
          }
        });
      }
      for (std::thread& t : workers) t.join();
      if (reader.joinable()) {
        lift_stall();  // already lifted by worker 0 (unless it threw)
        reader.join();
      }
      release_idle.count_down();
      for (std::thread& t : idle) t.join();

      // The invariants.
      EXPECT_EQ(stalled_bad, 0);
      std::int64_t ops_done = 0, commits_tried = 0, increments_ok = 0;
      std::size_t live = 0;
      for (int w = 0; w < kWorkers; ++w) {
        const Tally& t = tally[static_cast<std::size_t>(w)];
        EXPECT_EQ(t.bad, 0) << "a reader saw an id that is not a key, or another key's value";
        if (w != kWorkers - 1) {
          EXPECT_GT(t.reads, 0);  // the churner does not read
        }
        ops_done += t.ops;
        commits_tried += t.commits_tried;
        increments_ok += t.increments_ok;
      }
      EXPECT_EQ(ops_done, ops * kWorkers);
      // Whether a commit succeeds is up to the scheduler (under ASan a large-value cell
      // tries only a few); that commits ran and counters moved is not.
      EXPECT_GT(commits_tried, 0) << "no commit ran: the cell tested little";
      EXPECT_GT(increments_ok, 0) << "no counter moved: the cell tested little";
      for (int k = 0; k < kKeys; ++k) {
        const auto uk = static_cast<std::size_t>(k);
        const std::string& key = keys_[uk];
        std::int64_t increments = idle_increments[uk], created = 1, erased = 0;
        for (const Tally& t : tally) {
          increments += t.increments[uk];
          created += t.created[uk] + t.put_created[uk];
          erased += t.erased[uk];
        }
        const auto record = store.find(key);
        if (record) {
          ++live;
          EXPECT_TRUE(matches(record->value, key)) << key;
        }
        if (k < kCounterKeys) {
          ASSERT_TRUE(record) << key;
          EXPECT_EQ(record->value.counter, increments) << key;
        } else {
          EXPECT_EQ(record ? 1 : 0, created - erased)
              << key << ": created " << created << ", erased " << erased;
        }
      }
      EXPECT_EQ(store.size(), live);
      std::size_t seen = 0;
      store.for_each([&](const typename StoreT::record_type& r) {
        EXPECT_TRUE(key_set_.count(r.id) == 1 && matches(r.value, r.id));
        ++seen;
      });
      EXPECT_EQ(seen, live);
      EXPECT_EQ(epoch::drain(), 0u) << "every thread is joined: nothing may stay pending";
      EXPECT_EQ(epoch::pending_bytes(), 0u);
    }
    EXPECT_EQ(epoch::drain(), 0u) << "the store's teardown left garbage";
    epoch::set_garbage_limit(limit_before);
  }

 private:
  void check(Tally& me, const std::string& id, const V& value) const {
    ++me.reads;
    if (key_set_.count(id) == 0 || !matches(value, id)) ++me.bad;
  }

  // The churner's operation: a churn key erased and created again at once (or put
  // back), so index entries of long keys are freed while the other workers read them.
  void churn(StoreT& store, std::mt19937_64& rng, Tally& me) const {
    const auto k = static_cast<std::size_t>(kCounterKeys + rng() % kChurnKeys);
    const std::string& key = keys_[k];
    if (const auto r = store.find(key)) {
      if (store.try_erase(key, r->version).ok()) ++me.erased[k];
    }
    if (rng() % 2 == 0) {
      if (store.try_create(key, make<V>(key, 0)).ok()) ++me.created[k];
    } else if (store.put(key, make<V>(key, 0)).revision == 1) {
      ++me.put_created[k];
    }
  }

  // One operation, chosen by rng: every kind the store offers, on random keys.
  void step(StoreT& store, std::mt19937_64& rng, Tally& me) const {
    const auto k = static_cast<std::size_t>(rng() % kKeys);
    const auto churn = static_cast<std::size_t>(kCounterKeys + rng() % kChurnKeys);
    const std::string& key = keys_[k];
    const bool counter = k < kCounterKeys;
    switch (rng() % 11) {
      case 0:
        if (const auto r = store.find(key)) check(me, r->id, r->value);
        break;
      case 1:
        store.visit(key, [&](const vkv::RecordView<V>& view) { check(me, view.id, view.value); });
        break;
      case 2: {
        const auto found = store.find_many(std::span<const std::string>(keys_));
        for (std::size_t i = 0; i < found.size(); ++i) {
          if (!found[i]) continue;
          check(me, found[i]->id, found[i]->value);
          if (found[i]->id != keys_[i]) ++me.bad;
        }
        break;
      }
      case 3:
        store.for_each([&](const typename StoreT::record_type& r) { check(me, r.id, r.value); });
        break;
      case 4:
        if (auto r = store.find(key)) {
          ++r->value.counter;
          if (store.try_update_with_version(key, r->version, std::move(r->value)).ok() && counter) {
            me.counted(k);
          }
        }
        break;
      case 5:
        if (const auto r = store.find(key)) {
          const auto result =
              store.try_patch_with_version(key, r->version, [](V& v) { ++v.counter; });
          if (result.ok() && counter) me.counted(k);
        }
        break;
      case 6:
        try {
          store.update_with_retry(key, [](V& v) { ++v.counter; });
          if (counter) me.counted(k);
        } catch (const vkv::EntityNotFoundError&) {  // a churn key, erased
        } catch (const vkv::OptimisticLockError&) {  // retries spent: nothing written
        }
        break;
      case 7:
        if (store.put(keys_[churn], make<V>(keys_[churn], 0)).revision == 1) {
          ++me.put_created[churn];
        }
        break;
      case 8:
        if (const auto r = store.find(keys_[churn])) {
          if (store.try_erase(keys_[churn], r->version).ok()) ++me.erased[churn];
        }
        break;
      case 9:
        if (store.try_create(keys_[churn], make<V>(keys_[churn], 0)).ok()) ++me.created[churn];
        break;
      default: {  // a commit of a counter key and another key, both incremented
        const auto a = static_cast<std::size_t>(rng() % kCounterKeys);
        // Half the commits pair two counter keys (never absent), the rest any two keys.
        const std::size_t others = rng() % 2 == 0 ? kCounterKeys - 1 : kKeys - 1;
        const std::size_t b = (a + 1 + rng() % others) % (others + 1);
        auto ra = store.find(keys_[a]);
        auto rb = store.find(keys_[b]);
        if (!ra || !rb) break;
        ++ra->value.counter;
        ++rb->value.counter;
        ++me.commits_tried;
        vkv::Transaction<V> tx;
        tx.update(keys_[a], ra->version, std::move(ra->value))
            .update(keys_[b], rb->version, std::move(rb->value));
        if (store.try_commit(tx).ok()) {
          me.counted(a);
          if (b < kCounterKeys) ++me.increments[b];
        }
        break;
      }
    }
  }

  const Cell cell_;
  const std::uint64_t seed_;
  const std::vector<std::string> keys_;
  const std::set<std::string> key_set_;
};

class Realistic : public ::testing::TestWithParam<std::tuple<std::size_t, Kind, Condition>> {};

TEST_P(Realistic, MixedWorkloadKeepsItsInvariants) {
  const auto [length, kind, condition] = GetParam();
  const Cell cell{length, kind, condition};
  // A fixed seed per cell.
  const std::uint64_t seed =
      length * 16 + static_cast<std::uint64_t>(kind) * 4 + static_cast<std::uint64_t>(condition);
  switch (kind) {
    case Kind::small40:
      Workload<Small40>(cell, seed).run();
      break;
    case Kind::owning:
      Workload<Owning>(cell, seed).run();
      break;
    case Kind::large:
      Workload<Large>(cell, seed).run();
      break;
  }
}

std::string cell_name(
    const ::testing::TestParamInfo<std::tuple<std::size_t, Kind, Condition>>& info) {
  const auto [length, kind, condition] = info.param;
  static constexpr const char* kKinds[] = {"small40", "owning", "large64k"};
  static constexpr const char* kConditions[] = {"plain", "idle64", "stalled"};
  return (length == 0 ? std::string("short") : "len" + std::to_string(length)) + "_" +
         kKinds[static_cast<int>(kind)] + "_" + kConditions[static_cast<int>(condition)];
}

INSTANTIATE_TEST_SUITE_P(
    Axis, Realistic,
    ::testing::Combine(
        ::testing::Values(std::size_t{0}, std::size_t{16}, std::size_t{36}, std::size_t{120}),
        ::testing::Values(Kind::small40, Kind::owning, Kind::large),
        ::testing::Values(Condition::plain, Condition::idle_threads, Condition::stalled_reader)),
    cell_name);

}  // namespace
}  // namespace vkv_test::realistic
