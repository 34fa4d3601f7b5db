// Contention sweep: goodput, conflict rate, retries and latency of every retry
// strategy (and of the contention-adaptive mode and a pessimistic baseline) over
// threads x keys x distribution x write share; the same over the read-modify-write
// window; how backoff waits on an oversubscribed machine; the sweep that chose
// RetryPolicy's defaults; and the cost of the stats counters. See docs/benchmarks.md,
// "Retry defaults" and "Contention-adaptive mode", for the commands and the figures.
//
// Each contention cell is one run_cell() (src/workload): real threads on a
// structure built fresh for the cell, for a fixed duration, timed by the driver,
// reported with manual time and plain counters. Environment:
//   VKV_BENCH_SMOKE=1      10 ms cells and a small set of cells (CI: seconds).
//   VKV_CONTENTION_MS=<n>  cell duration in ms (default 150).
//   VKV_CONTENTION_SEED=<n> workload seed (default 42), to repeat cells independently.
//   VKV_CONTENTION_WORK_NS=<n> busy window for BM_Contention and BM_RetryDefaults
//                          (default 0; BM_ContentionWindow sweeps its own windows).
//   VKV_CONTENTION_WINDOWS=<list> BM_ContentionWindow's windows, comma-separated
//                          window names (default 0,busy-1us,busy-10us,blocking-10us,
//                          blocking-100us).
//
// Output (for tools/docs/bench-charts.py and docs/benchmarks.md). Benchmark names:
//   BM_Contention/<strategy>/threads:<T>/keys:<K>/<uniform|zipf>/writes:<W%>
//   BM_ContentionWindow/<strategy>/threads:<T>/keys:<K>/<uniform|zipf>/writes:<W%>/window:<w>
//     strategy: full-jitter (vkv's default policy), adaptive (contention_adaptive on),
//     pessimistic (CHM write accessor held across the window);
//     w: 0 | busy-1us | busy-10us | blocking-10us | blocking-100us (window_name()).
//   BM_ContentionReads/<strategy>/threads:<T>/keys:1/uniform/writes:<W%>/window:<w>
//     the read-share sweep: every strategy, writes 100/10/1 % (0/90/99 % reads),
//     w: 0 | busy-10us | blocking-100us, T: 2 | 8.
//   BM_BackoffWait/<spin|yield|adaptive>/threads:<T>/keys:<K>/<dist>/writes:100/window:<w>
//     full-jitter with detail::WaitMode forced (adaptive is the library's default).
//   BM_AdaptiveMaxWait/<strategy>/threads:<T>/keys:1/uniform/writes:100/window:<w>/max_wait_us:<m>
//     adaptive with StoreOptions::contention_max_wait m (0: the strategy has none), next
//     to full-jitter and pessimistic, on one hot key.
//   BM_RetryDefaults/.../base_ns:<b>/cap_ns:<c>
//   BM_WaitVictim/mode:<0 adaptive|1 spin|2 yield>/waiters:<W>/delay_ns:<d>/real_time
//     not a contention cell: items_per_second (the worker's progress), waits_per_s,
//     wait_ratio (see the function).
// Counters of every contention cell (plain numbers; the manual time is the cell's
// measured seconds):
//   goodput          committed operations (writes + reads) per second
//   conflict_rate    failed compare-and-swaps / write attempts
//   retries_mean, retries_p99   retries per committed write
//   lat_p50_ns, lat_p99_ns, lat_p999_ns      latency of any committed operation
//   write_p50_ns, write_p99_ns, write_p999_ns  latency of committed writes only
//   read_p50_ns, read_p99_ns, read_p999_ns     latency of reads only (0 without reads)
//     (both sampled: one operation in 8 per thread, alike for every strategy)
//   latency_samples  operations timed
//   committed, gave_up, turns (adaptive: attempts made holding a turn)
//   window_ns, window_blocking (0 busy, 1 blocking)
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <vkv/vkv.hpp>

#include "bench_main.hpp"
#include "workload/workload.hpp"

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
  // The cell's figures; goodput is committed ops per second (driver-timed).
  const std::pair<const char*, double> counters[] = {
      {"goodput", r.goodput},
      {"conflict_rate", r.conflict_rate},
      {"retries_mean", r.retries_mean},
      {"retries_p99", r.retries_p99},
      {"lat_p50_ns", r.latency_p50_ns},
      {"lat_p99_ns", r.latency_p99_ns},
      {"lat_p999_ns", r.latency_p999_ns},
      {"committed", static_cast<double>(r.committed)},
      {"gave_up", static_cast<double>(r.gave_up)},
      {"turns", static_cast<double>(r.turns)},
      {"write_p50_ns", r.write_latency_p50_ns},
      {"write_p99_ns", r.write_latency_p99_ns},
      {"read_p50_ns", r.read_latency_p50_ns},
      {"read_p99_ns", r.read_latency_p99_ns},
      {"read_p999_ns", r.read_latency_p999_ns},
      {"write_p999_ns", r.write_latency_p999_ns},
      {"latency_samples", static_cast<double>(r.latency_samples)},
  };
  for (const auto& [name, value] : counters) state.counters[name] = value;
  const vkv::workload::Window window = vkv::workload::effective_window(r.config);
  state.counters["window_ns"] = static_cast<double>(window.length.count());
  state.counters["window_blocking"] =
      window.kind == vkv::workload::WindowKind::blocking && window.length.count() > 0 ? 1 : 0;
}

void run(benchmark::State& state, CellConfig config) {
  config.duration = cell_duration();
  config.seed = cell_seed();
  if (config.window.length.count() == 0) config.mutate_work = mutate_work();
  Arena& arena = arena_for(config.keys);  // Zipf tables, built outside the timed cell
  for (auto _ : state) {
    const CellResult r = vkv::workload::run_cell(config, arena);
    report(state, r);
  }
}

// VKV_CONTENTION_WINDOWS, or the standard five.
std::vector<vkv::workload::Window> sweep_windows() {
  const char* env = std::getenv("VKV_CONTENTION_WINDOWS");
  if (env == nullptr || env[0] == '\0') return vkv::workload::standard_windows();
  std::vector<vkv::workload::Window> windows;
  const std::string text(env);
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma - start);
    if (auto window = vkv::workload::parse_window(item)) {
      windows.push_back(*window);
    } else {
      std::fprintf(stderr, "VKV_CONTENTION_WINDOWS: '%s' is not a window (e.g. busy-1us)\n",
                   item.c_str());
      std::exit(2);
    }
    if (comma == std::string::npos) return windows;
    start = comma + 1;
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

// One cell's settings; the rest (window, delays, max wait) keep CellConfig's defaults.
CellConfig make_cell(int threads, std::size_t keys, Distribution distribution, double write_share,
                     Strategy strategy, vkv::workload::Window window = {}) {
  CellConfig c;
  c.threads = threads;
  c.keys = keys;
  c.distribution = distribution;
  c.write_share = write_share;
  c.strategy = strategy;
  c.window = window;
  return c;
}

// Every contention cell runs once and reports the driver's own time.
template <class Body>
void add_timed(const std::string& name, Body body) {
  benchmark::RegisterBenchmark(name.c_str(), body)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

// Registers `family`'s cell: cell_name() plus `suffix` (the family's extra dimensions).
void add_cell(const char* family, const CellConfig& config, const std::string& suffix = {}) {
  add_timed(cell_name(family, config) + suffix,
            [config](benchmark::State& state) { run(state, config); });
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
            add_cell("BM_Contention", make_cell(t, k, d, share, s));
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
          add_cell("BM_Contention", make_cell(t, 1'000'000, d, share, s));
        }
      }
    }
  }
}

// The window sweep: the read-modify-write window x threads x keys x write
// share, for vkv's default policy, the adaptive mode and the pessimistic baseline.
void register_window_sweep() {
  const bool quick = smoke();
  const std::vector<Strategy> strategies = {Strategy::full_jitter, Strategy::adaptive,
                                            Strategy::pessimistic};
  const std::vector<int> threads = quick ? std::vector<int>{2} : std::vector<int>{1, 2, 4};
  const std::vector<std::size_t> keys =
      quick ? std::vector<std::size_t>{1} : std::vector<std::size_t>{1, 16, 1024};
  const std::vector<double> shares =
      quick ? std::vector<double>{1.0} : std::vector<double>{0.05, 0.5, 1.0};
  for (const vkv::workload::Window& window : sweep_windows()) {
    for (const std::size_t k : keys) {
      for (const double share : shares) {
        for (const int t : threads) {
          for (const Strategy s : strategies) {
            add_cell("BM_ContentionWindow",
                     make_cell(t, k, Distribution::uniform, share, s, window),
                     "/window:" + vkv::workload::window_name(window));
          }
        }
      }
    }
  }
}

// The read-share sweep: what optimism exists for, readers that never wait
// behind a writer. 0, 90 and 99 % reads x windows 0 / busy 10 us / blocking 100 us x
// threads {2, 8} (8: more runnable threads than the 2-core VM has cores) on one hot
// key, every strategy; pessimistic readers take the key's read lock.
void register_read_share_sweep() {
  const bool quick = smoke();
  const std::vector<Strategy> strategies = vkv::workload::all_strategies();
  const std::vector<int> threads = quick ? std::vector<int>{2} : std::vector<int>{2, 8};
  const std::vector<double> shares =
      quick ? std::vector<double>{0.1} : std::vector<double>{1.0, 0.1, 0.01};
  std::vector<vkv::workload::Window> windows;
  for (const char* name : {"0", "busy-10us", "blocking-100us"}) {
    windows.push_back(*vkv::workload::parse_window(name));
    if (quick) break;
  }
  for (const double share : shares) {
    for (const vkv::workload::Window& window : windows) {
      for (const int t : threads) {
        for (const Strategy s : strategies) {
          add_cell("BM_ContentionReads", make_cell(t, 1, Distribution::uniform, share, s, window),
                   "/window:" + vkv::workload::window_name(window));
        }
      }
    }
  }
}

// Backoff on an oversubscribed machine: the default policy with
// wait_for forced to spin, forced to yield, and adaptive (the default), at thread
// counts at, above and far above the core count.
void register_backoff_wait() {
  const bool quick = smoke();
  const std::vector<std::pair<vkv::detail::WaitMode, const char*>> modes = {
      {vkv::detail::WaitMode::spin, "spin"},
      {vkv::detail::WaitMode::yield, "yield"},
      {vkv::detail::WaitMode::adaptive, "adaptive"}};
  const std::vector<int> threads = quick ? std::vector<int>{2} : std::vector<int>{2, 4, 8};
  const std::vector<vkv::workload::Window> windows = {
      vkv::workload::Window{},
      vkv::workload::Window{vkv::workload::WindowKind::busy, std::chrono::microseconds(1)}};
  for (const auto& window : windows) {
    for (const std::size_t k : {std::size_t{1}, std::size_t{16}}) {
      for (const int t : threads) {
        for (const auto& [mode, mode_name] : modes) {
          const CellConfig c = make_cell(t, k, k == 1 ? Distribution::uniform : Distribution::zipf,
                                         1.0, Strategy::full_jitter, window);
          const std::string name = "BM_BackoffWait/" + std::string(mode_name) +
                                   "/threads:" + std::to_string(t) + "/keys:" + std::to_string(k) +
                                   "/" +
                                   std::string(vkv::workload::distribution_name(c.distribution)) +
                                   "/writes:100/window:" + vkv::workload::window_name(window);
          add_timed(name, [c, mode = mode](benchmark::State& state) {
            vkv::detail::set_wait_mode(mode);
            run(state, c);
            vkv::detail::set_wait_mode(vkv::detail::WaitMode::adaptive);
          });
        }
      }
    }
  }
}

// The adaptive mode's bounded turn wait against long windows: a writer waits at most
// StoreOptions::contention_max_wait (200 us by default) for its turn, then writes
// optimistically. With a blocking window the holder keeps the turn for the whole
// window, so a queue of waiters outlasts 200 us; this family measures adaptive with the
// default and with 2 ms next to full-jitter and pessimistic on the hot cells.
void register_adaptive_max_wait() {
  if (smoke()) return;
  using std::chrono::microseconds;
  const std::vector<vkv::workload::Window> windows = {
      vkv::workload::Window{vkv::workload::WindowKind::busy, microseconds(10)},
      vkv::workload::Window{vkv::workload::WindowKind::blocking, microseconds(10)},
      vkv::workload::Window{vkv::workload::WindowKind::blocking, microseconds(100)}};
  const std::vector<std::pair<Strategy, std::int64_t>> peers = {{Strategy::full_jitter, 0},
                                                                {Strategy::pessimistic, 0},
                                                                {Strategy::adaptive, 200},
                                                                {Strategy::adaptive, 2000}};
  for (const auto& window : windows) {
    for (const int t : {2, 4}) {
      for (const auto& [strategy, wait_us] : peers) {
        CellConfig c = make_cell(t, 1, Distribution::uniform, 1.0, strategy, window);
        c.contention_max_wait = microseconds(wait_us);
        add_cell("BM_AdaptiveMaxWait", c,
                 "/window:" + vkv::workload::window_name(window) +
                     "/max_wait_us:" + std::to_string(wait_us));
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
            CellConfig c =
                make_cell(t, k, k == 1 ? Distribution::uniform : Distribution::zipf, 1.0, s);
            c.base_delay = std::chrono::nanoseconds(base);
            c.max_delay = std::chrono::nanoseconds(cap);
            add_cell("BM_RetryDefaults", c,
                     "/base_ns:" + std::to_string(base) + "/cap_ns:" + std::to_string(cap));
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

// What a backing-off thread costs the thread it waits for. This
// thread does fixed units of arithmetic (the thread that would make progress) while
// `waiters` other threads loop on detail::wait_for(delay), as retrying losers do. With
// more runnable threads than cores, a spinning waiter holds a core the worker could
// use; a yielding one hands it over. Args: wait mode (0 adaptive, 1 spin, 2 yield),
// waiters, delay in ns. Counters: the worker's units/s (items_per_second), waits/s,
// and wait_ratio = mean time one wait took / the delay asked (1.0 = exact).
void BM_WaitVictim(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  const auto mode = static_cast<vkv::detail::WaitMode>(state.range(0));
  const auto waiters = static_cast<int>(state.range(1));
  const std::chrono::nanoseconds delay(state.range(2));
  vkv::detail::set_wait_mode(mode);
  // relaxed: a stop flag (eventually seen) and totals read after join(), which orders them.
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> waits{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < waiters; ++w) {
    threads.emplace_back([&] {
      std::uint64_t done = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        vkv::detail::wait_for(delay);
        ++done;
      }
      waits.fetch_add(done, std::memory_order_relaxed);
    });
  }
  std::uint64_t x = 1;
  const auto began = Clock::now();
  for (auto _ : state) {
    for (int i = 0; i < 256; ++i) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    benchmark::DoNotOptimize(x);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& thread : threads) thread.join();
  vkv::detail::set_wait_mode(vkv::detail::WaitMode::adaptive);
  const auto total = static_cast<double>(waits.load(std::memory_order_relaxed));
  state.SetItemsProcessed(state.iterations());
  state.counters["waits_per_s"] = seconds > 0 ? total / seconds : 0;
  state.counters["wait_ratio"] =
      total > 0 ? seconds * waiters / total / std::chrono::duration<double>(delay).count() : 0;
}
BENCHMARK(BM_WaitVictim)
    ->ArgNames({"mode", "waiters", "delay_ns"})
    ->ArgsProduct({{1, 2, 0}, {0, 1, 3}, {2000, 20000}})
    ->MinTime(0.3)
    ->UseRealTime();

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

void register_all() {
  register_sweep();
  register_window_sweep();
  register_read_share_sweep();
  register_backoff_wait();
  register_adaptive_max_wait();
  register_defaults_grid();
}

}  // namespace

int main(int argc, char** argv) { return vkv_bench::run_benchmarks(argc, argv, register_all); }
