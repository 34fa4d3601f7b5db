// The cache layer's costs and quality, each beside its peer in this binary:
//   BM_Cache_{Find,Visit,UpdateWithVersion}/{0,1}: a store without (0) and with (1)
//       max_records and default_ttl set (bound 2x the records, so nothing is evicted;
//       TTL one hour, so nothing expires): the overhead of the expiry check (a clock
//       read per access of a record that has a stamp), of recording use, and of active
//       expiry on writes. Target: find / visit <= 1.15x, update_with_version <= 1.3x.
//   BM_Cache_Ratio_{Find,Visit,UpdateWithVersion}: the same pairs interleaved in
//       batches within one benchmark (counter ratio = cached / plain thread CPU time),
//       robust to load that changes during the run: the figures to quote.
//   BM_Cache_BoundFill: 2 threads put 10x the bound; counters max_size (largest size()
//       seen, sampled every 16 puts by each thread), bound, final_size.
//   BM_Cache_ZipfHitRate: one Zipfian (theta 0.99) trace over `keys` keys, a cache of
//       10% of them filled on a miss (find, then put); counters hit_rate (vkv), lru
//       (exact LRU simulated on the same trace: list + map) and gap_pp = lru - vkv in
//       percentage points. Target: gap_pp <= 5.
// Records: 10k keys (VKV_BENCH_KEYS / VKV_BENCH_SMOKE shrink it; bench/peers/common.hpp).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_main.hpp"
#include "peers/common.hpp"
#include "peers/ycsb_generator.hpp"
#include "vkv/store.hpp"

namespace {

using namespace vkv_bench;
using namespace std::chrono_literals;
using CacheStore = vkv::Store<Value32>;

vkv::StoreOptions options_for(bool cached, std::size_t records) {
  vkv::StoreOptions options;
  if (cached) {
    options.max_records = records * 2;
    options.default_ttl = 1h;
  }
  return options;
}

struct Fixture {
  std::unique_ptr<CacheStore> store;
  std::vector<std::string> keys;
  std::vector<vkv::Version> versions;  // per key, for the update benchmark (per thread slices)
};

Fixture make_fixture(bool cached) {
  Fixture f;
  const std::size_t n = scaled_keys(10000);
  f.keys = make_keys(0, n);
  f.store = std::make_unique<CacheStore>(options_for(cached, n));
  for (std::size_t i = 0; i < n; ++i) {
    f.versions.push_back(f.store->create(f.keys[i], make_value(i)).version);
  }
  return f;
}

// Built once, by whichever benchmark thread asks first: function-local statics are
// initialised exactly once even when several threads arrive together (a shared
// "if (!store)" check let two threads fill one store: DuplicateKeyError).
Fixture& fixture(bool cached) {
  static Fixture plain = make_fixture(false);
  static Fixture with_cache = make_fixture(true);
  return cached ? with_cache : plain;
}

// One read per iteration of a random key (fixed seed per thread) of the store that
// state.range(0) picks: 0 plain, 1 with the cache layer.
template <class Read>
void read_random(benchmark::State& state, Read read) {
  Fixture& f = fixture(state.range(0) != 0);
  SplitMix random{static_cast<std::uint64_t>(state.thread_index()) + 1};
  for (auto _ : state) read(*f.store, f.keys[random.next() % f.keys.size()]);
}

void find(benchmark::State& state) {
  std::size_t hits = 0;
  read_random(state, [&](auto& store, const std::string& key) {
    auto record = store.find(key);
    hits += record ? 1 : 0;
    benchmark::DoNotOptimize(record);
  });
  if (hits != static_cast<std::size_t>(state.iterations())) state.SkipWithError("a find missed");
}

void visit(benchmark::State& state) {
  std::uint64_t sum = 0;
  read_random(state, [&](auto& store, const std::string& key) {
    store.visit(key, [&](const vkv::RecordView<Value32>& view) {
      sum += static_cast<unsigned char>(view.value.bytes[0]);
    });
  });
  benchmark::DoNotOptimize(sum);
}

void update(benchmark::State& state) {
  Fixture& f = fixture(state.range(0) != 0);
  // Each thread writes its own slice of keys (no conflicts: the cost of a write).
  const std::size_t threads = static_cast<std::size_t>(state.threads());
  const std::size_t slice = f.keys.size() / threads;
  const std::size_t first = slice * static_cast<std::size_t>(state.thread_index());
  SplitMix random{static_cast<std::uint64_t>(state.thread_index()) + 7};
  std::uint64_t n = 0;
  for (auto _ : state) {
    const std::size_t i = first + random.next() % slice;
    f.versions[i] = f.store->update_with_version(f.keys[i], f.versions[i], make_value(++n)).version;
  }
}

// Thread CPU time in ns: on a loaded machine, time this thread was not running does
// not count against either side.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// The ratio in one benchmark: batches of 4096 operations alternate between the plain
// and the cached store, so both sides see the same machine load; counters plain_ns and
// cached_ns (thread CPU time per operation) and ratio = cached / plain.
template <class Op>
void interleaved(benchmark::State& state, Op op) {
  Fixture& plain = fixture(false);
  Fixture& cached = fixture(true);
  constexpr int kBatch = 4096;
  SplitMix random{static_cast<std::uint64_t>(state.thread_index()) + 11};
  double plain_ns = 0, cached_ns = 0;
  std::uint64_t batches = 0;
  for (auto _ : state) {
    for (int side = 0; side < 2; ++side) {
      Fixture& f = side == 0 ? plain : cached;
      const double start = thread_cpu_ns();
      for (int i = 0; i < kBatch; ++i) op(f, random);
      (side == 0 ? plain_ns : cached_ns) += thread_cpu_ns() - start;
    }
    ++batches;
  }
  const double ops = static_cast<double>(batches) * kBatch;
  // kAvgThreads: each thread reports its own figures; the row shows their mean.
  state.counters["plain_ns"] = benchmark::Counter(plain_ns / ops, benchmark::Counter::kAvgThreads);
  state.counters["cached_ns"] =
      benchmark::Counter(cached_ns / ops, benchmark::Counter::kAvgThreads);
  state.counters["ratio"] =
      benchmark::Counter(plain_ns > 0 ? cached_ns / plain_ns : 0, benchmark::Counter::kAvgThreads);
}

void ratio_find(benchmark::State& state) {
  interleaved(state, [](Fixture& f, SplitMix& random) {
    auto record = f.store->find(f.keys[random.next() % f.keys.size()]);
    benchmark::DoNotOptimize(record);
  });
}

void ratio_visit(benchmark::State& state) {
  interleaved(state, [](Fixture& f, SplitMix& random) {
    std::uint64_t sum = 0;
    f.store->visit(f.keys[random.next() % f.keys.size()],
                   [&](const vkv::RecordView<Value32>& view) { sum += view.value.bytes[0] != 0; });
    benchmark::DoNotOptimize(sum);
  });
}

void ratio_update(benchmark::State& state) {
  interleaved(state, [](Fixture& f, SplitMix& random) {
    const std::size_t i = random.next() % f.keys.size();
    f.versions[i] = f.store->update_with_version(f.keys[i], f.versions[i], make_value(i)).version;
  });
}

void bound_fill(benchmark::State& state) {
  const std::size_t bound = scaled_keys(10000);
  std::size_t max_size = 0;
  std::size_t final_size = 0;
  for (auto _ : state) {
    vkv::StoreOptions options;
    options.max_records = bound;
    CacheStore store(options);
    std::atomic<std::size_t> max_seen{0};
    auto fill = [&](std::size_t t) {
      for (std::size_t i = 0; i < bound * 5; ++i) {
        store.put(make_key(t * bound * 10 + i), make_value(i));
        if (i % 16 == 0) {
          const std::size_t now = store.size();
          std::size_t seen = max_seen.load(std::memory_order_relaxed);
          while (now > seen && !max_seen.compare_exchange_weak(seen, now)) {
          }
        }
      }
    };
    std::thread other(fill, 1);
    fill(0);
    other.join();
    max_size = std::max(max_size, max_seen.load());
    final_size = store.size();
  }
  state.counters["bound"] = static_cast<double>(bound);
  state.counters["max_size"] = static_cast<double>(max_size);
  state.counters["final_size"] = static_cast<double>(final_size);
}

// Exact LRU over the same trace: a list in use order and a map into it.
double exact_lru_hit_rate(const std::vector<std::uint64_t>& trace, std::size_t capacity) {
  std::list<std::uint64_t> order;  // front = most recent
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where;
  std::size_t hits = 0;
  for (const std::uint64_t key : trace) {
    auto it = where.find(key);
    if (it != where.end()) {
      ++hits;
      order.splice(order.begin(), order, it->second);
      continue;
    }
    order.push_front(key);
    where[key] = order.begin();
    if (order.size() > capacity) {
      where.erase(order.back());
      order.pop_back();
    }
  }
  return static_cast<double>(hits) / static_cast<double>(trace.size());
}

void zipf_hit_rate(benchmark::State& state) {
  const std::size_t keys = scaled_keys(100000);
  const std::size_t capacity = keys / 10;
  const std::size_t length = smoke_run() ? 50000 : 2000000;
  const ZipfianGenerator zipf(keys, 0.99);
  KeyChooser chooser(Distribution::zipfian, &zipf, keys, 42);
  std::vector<std::uint64_t> trace(length);
  for (auto& key : trace) key = chooser.next();
  const std::vector<std::string> names = make_keys(0, keys);
  const double lru = exact_lru_hit_rate(trace, capacity);
  double vkv_rate = 0;
  for (auto _ : state) {
    vkv::StoreOptions options;
    options.max_records = capacity;
    CacheStore store(options);
    std::size_t hits = 0;
    for (const std::uint64_t key : trace) {
      if (store.find(names[key])) {
        ++hits;
      } else {
        store.put(names[key], make_value(key));
      }
    }
    vkv_rate = static_cast<double>(hits) / static_cast<double>(trace.size());
  }
  state.counters["hit_rate"] = vkv_rate;
  state.counters["lru"] = lru;
  state.counters["gap_pp"] = (lru - vkv_rate) * 100.0;
}

void register_all() {
  for (const int cached : {0, 1}) {
    benchmark::RegisterBenchmark("BM_Cache_Find", find)
        ->Arg(cached)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Cache_Visit", visit)
        ->Arg(cached)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark("BM_Cache_UpdateWithVersion", update)
        ->Arg(cached)
        ->Threads(1)
        ->Threads(2)
        ->UseRealTime();
  }
  // One thread: update_with_version's versions vector is shared by the fixture.
  benchmark::RegisterBenchmark("BM_Cache_Ratio_Find", ratio_find)->Threads(1)->Threads(2);
  benchmark::RegisterBenchmark("BM_Cache_Ratio_Visit", ratio_visit)->Threads(1)->Threads(2);
  benchmark::RegisterBenchmark("BM_Cache_Ratio_UpdateWithVersion", ratio_update)->Threads(1);
  benchmark::RegisterBenchmark("BM_Cache_BoundFill", bound_fill)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Cache_ZipfHitRate", zipf_hit_rate)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) { return vkv_bench::run_benchmarks(argc, argv, register_all); }
