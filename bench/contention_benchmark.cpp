// Contention sweep: goodput, conflict rate, retries and latency of every retry
// strategy (and of the contention-adaptive mode and a pessimistic baseline) over
// threads x keys x distribution x write share; the sweep that chose RetryPolicy's
// defaults; and the cost of the stats counters. See docs/benchmarks.md, "Retry
// defaults" and "Contention-adaptive mode", for the commands and the figures.
//
// Each contention cell is one run_cell() (bench/workload): real threads on a real
// Store for a fixed duration, timed by the driver, reported with manual time and
// plain counters. Environment:
//   VKV_BENCH_SMOKE=1      10 ms cells and a small set of cells (CI: seconds).
//   VKV_CONTENTION_MS=<n>  cell duration in ms (default 150).
//   VKV_CONTENTION_SEED=<n> workload seed (default 42), to repeat cells independently.
//   VKV_CONTENTION_WORK_NS=<n> busy work inside each read-modify-write (default 0).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <vkv/vkv.hpp>

#include "workload.hpp"

namespace {

using vkv::workload::Arena;
using vkv::workload::CellConfig;
using vkv::workload::CellResult;
using vkv::workload::Distribution;
using vkv::workload::Strategy;

bool smoke() {
  const char* env = std::getenv("VKV_BENCH_SMOKE");
  return env != nullptr && env[0] != '\0' && env[0] != '0';
}

std::chrono::milliseconds cell_duration() {
  if (smoke()) return std::chrono::milliseconds(10);
  const char* env = std::getenv("VKV_CONTENTION_MS");
  const long ms = env ? std::atol(env) : 0;
  return std::chrono::milliseconds(ms > 0 ? ms : 150);
}

// VKV_CONTENTION_WORK_NS: CellConfig::mutate_work for every cell (default 0).
std::chrono::nanoseconds mutate_work() {
  const char* env = std::getenv("VKV_CONTENTION_WORK_NS");
  const long long ns = env ? std::atoll(env) : 0;
  return std::chrono::nanoseconds(ns > 0 ? ns : 0);
}

std::uint64_t cell_seed() {
  const char* env = std::getenv("VKV_CONTENTION_SEED");
  const long long seed = env ? std::atoll(env) : 0;
  return seed > 0 ? static_cast<std::uint64_t>(seed) : 42;
}

// One Arena per key count, built on first use and kept: a million keys take seconds
// to create, and every later cell with that count reuses them.
Arena& arena_for(std::size_t keys) {
  static std::map<std::size_t, std::unique_ptr<Arena>> arenas;
  std::unique_ptr<Arena>& slot = arenas[keys];
  if (!slot) slot = std::make_unique<Arena>(keys);
  return *slot;
}

void report(benchmark::State& state, const CellResult& r) {
  state.SetIterationTime(r.seconds);
  state.counters["goodput"] = r.goodput;  // committed ops per second (driver-timed)
  state.counters["conflict_rate"] = r.conflict_rate;
  state.counters["retries_mean"] = r.retries_mean;
  state.counters["retries_p99"] = r.retries_p99;
  state.counters["lat_p50_ns"] = r.latency_p50_ns;
  state.counters["lat_p99_ns"] = r.latency_p99_ns;
  state.counters["lat_p999_ns"] = r.latency_p999_ns;
  state.counters["committed"] = static_cast<double>(r.committed);
  state.counters["gave_up"] = static_cast<double>(r.gave_up);
  state.counters["turns"] = static_cast<double>(r.turns);
}

void run(benchmark::State& state, CellConfig config) {
  config.duration = cell_duration();
  config.seed = cell_seed();
  config.mutate_work = mutate_work();
  Arena& arena = arena_for(config.keys);  // built outside the timed cell
  for (auto _ : state) {
    const CellResult r = vkv::workload::run_cell(config, arena);
    report(state, r);
  }
}

std::string cell_name(const char* family, const CellConfig& c) {
  std::string name = std::string(family) + "/" +
                     std::string(vkv::workload::strategy_name(c.strategy)) +
                     "/threads:" + std::to_string(c.threads) + "/keys:" + std::to_string(c.keys) +
                     "/" + std::string(vkv::workload::distribution_name(c.distribution)) +
                     "/writes:" + std::to_string(static_cast<int>(c.write_share * 100 + 0.5));
  return name;
}

void add_cell(const char* family, const CellConfig& config) {
  benchmark::RegisterBenchmark(cell_name(family, config).c_str(),
                               [config](benchmark::State& state) { run(state, config); })
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

// The sweep: threads 1-8, keys {1, 16, 1024}, uniform and Zipf 0.99 (one key has no
// distribution), write shares 5/50/100 %, every strategy; a million keys only for
// threads {2, 8} and write shares {5, 100} %.
void register_sweep() {
  const bool quick = smoke();
  // The compared strategies plus the unversioned lock, a reference for what the
  // versioned records cost (docs/benchmarks.md, "Contention-adaptive mode").
  std::vector<Strategy> strategies = vkv::workload::all_strategies();
  strategies.push_back(Strategy::pessimistic_unversioned);
  const std::vector<int> threads =
      quick ? std::vector<int>{1, 2} : std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<std::size_t> keys =
      quick ? std::vector<std::size_t>{1, 16} : std::vector<std::size_t>{1, 16, 1024};
  const std::vector<double> shares =
      quick ? std::vector<double>{1.0} : std::vector<double>{0.05, 0.5, 1.0};
  for (const std::size_t k : keys) {
    for (const Distribution d : {Distribution::uniform, Distribution::zipf}) {
      if (k == 1 && d == Distribution::zipf) continue;
      for (const double share : shares) {
        for (const int t : threads) {
          for (const Strategy s : strategies) {
            CellConfig c;
            c.threads = t;
            c.keys = k;
            c.distribution = d;
            c.write_share = share;
            c.strategy = s;
            add_cell("BM_Contention", c);
          }
        }
      }
    }
  }
  if (quick) return;
  for (const Distribution d : {Distribution::uniform, Distribution::zipf}) {
    for (const double share : {0.05, 1.0}) {
      for (const int t : {2, 8}) {
        for (const Strategy s : strategies) {
          CellConfig c;
          c.threads = t;
          c.keys = 1'000'000;
          c.distribution = d;
          c.write_share = share;
          c.strategy = s;
          add_cell("BM_Contention", c);
        }
      }
    }
  }
}

// The grid that chose RetryPolicy's defaults: jitter x base delay x cap on the cells
// where the policy matters (every op a write; one key, and 16 keys under Zipf).
void register_defaults_grid() {
  const bool quick = smoke();
  const std::vector<Strategy> jitters = {Strategy::full_jitter, Strategy::equal_jitter,
                                         Strategy::decorrelated_jitter, Strategy::exponential};
  const std::vector<std::int64_t> bases =
      quick ? std::vector<std::int64_t>{500} : std::vector<std::int64_t>{100, 250, 500, 1000, 2000};
  const std::vector<std::int64_t> caps =
      quick ? std::vector<std::int64_t>{50'000}
            : std::vector<std::int64_t>{5'000, 20'000, 50'000, 200'000};
  const std::vector<int> threads = quick ? std::vector<int>{2} : std::vector<int>{2, 4, 8};
  for (const std::size_t k : {std::size_t{1}, std::size_t{16}}) {
    for (const int t : threads) {
      for (const Strategy s : jitters) {
        for (const std::int64_t base : bases) {
          for (const std::int64_t cap : caps) {
            CellConfig c;
            c.threads = t;
            c.keys = k;
            c.distribution = k == 1 ? Distribution::uniform : Distribution::zipf;
            c.write_share = 1.0;
            c.strategy = s;
            c.base_delay = std::chrono::nanoseconds(base);
            c.max_delay = std::chrono::nanoseconds(cap);
            const std::string name = cell_name("BM_RetryDefaults", c) +
                                     "/base_ns:" + std::to_string(base) +
                                     "/cap_ns:" + std::to_string(cap);
            benchmark::RegisterBenchmark(name.c_str(),
                                         [c](benchmark::State& state) { run(state, c); })
                ->Iterations(1)
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond);
          }
        }
      }
    }
  }
}

// ---- Stats overhead: one counter increment against the uncontended update it counts.

// The update a counter rides on: a single thread updating its own key.
void BM_Stats_UncontendedUpdate(benchmark::State& state) {
  vkv::Store<std::uint64_t, std::uint64_t> store;
  auto record = store.create(1, 0);
  for (auto _ : state) {
    record = store.update_with_version(1, record.version, record.value + 1);
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_UncontendedUpdate);

// The read a counter rides on (find counts one read).
void BM_Stats_UncontendedFind(benchmark::State& state) {
  vkv::Store<std::uint64_t, std::uint64_t> store;
  store.create(1, 0);
  for (auto _ : state) benchmark::DoNotOptimize(store.find(1));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_UncontendedFind);

// What each counted operation pays for counting: StoreCounters::add, as the store
// calls it (a thread-local record lookup, then a relaxed load and store on the
// thread's own cell).
void BM_Stats_CounterAdd(benchmark::State& state) {
  vkv::detail::StoreCounters counters;
  for (auto _ : state) {
    counters.add(vkv::detail::Counter::writes);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(counters.sum().writes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_CounterAdd);

// The same with every thread counting at once (2 and 8 threads on one store): owned
// cells mean no shared hot line, so the per-add cost should not grow with threads.
void BM_Stats_CounterAddThreads(benchmark::State& state) {
  static vkv::detail::StoreCounters counters;
  for (auto _ : state) {
    counters.add(vkv::detail::Counter::writes);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stats_CounterAddThreads)->Threads(2)->Threads(8)->UseRealTime();

// What the contention-adaptive mode costs a cold key: single-threaded update_with_retry
// with the mode off (0) and on (1), same store shape, nothing ever conflicts.
void BM_Adaptive_ColdUpdateWithRetry(benchmark::State& state) {
  vkv::StoreOptions options;
  options.contention_adaptive = state.range(0) != 0;
  vkv::Store<std::uint64_t, std::uint64_t> store(options);
  for (std::uint64_t k = 0; k < 1024; ++k) store.create(k, 0);
  std::uint64_t key = 0;
  for (auto _ : state) {
    key = (key + 1) & 1023;
    benchmark::DoNotOptimize(store.update_with_retry(key, [](std::uint64_t& v) { ++v; }));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Adaptive_ColdUpdateWithRetry)->Arg(0)->Arg(1);

// Reading the stats (sums every cell): what a monitoring thread pays per poll.
void BM_Stats_Sum(benchmark::State& state) {
  vkv::detail::StoreCounters counters;
  counters.add(vkv::detail::Counter::writes);
  for (auto _ : state) benchmark::DoNotOptimize(counters.sum());
}
BENCHMARK(BM_Stats_Sum);

}  // namespace

int main(int argc, char** argv) {
  register_sweep();
  register_defaults_grid();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
