// The shared contention driver (see workload.hpp).
//
// Measurement rules: workers start together on a std::barrier that the driver also
// waits on; the driver times the cell with steady_clock from the barrier until every
// worker has joined. Each worker counts into its own heap-allocated tally (allocated
// by the worker itself, padded), so nothing shared is written while measuring except
// what the strategy under test writes. Tallies are merged after join().
//
// Fairness between peers: every cell builds its structures fresh; no peer gets a size
// hint; every structure allocates through the global operator new (vkv's nodes do, and
// the locked maps use std::allocator rather than TBB's scalable allocator); latency is
// sampled one operation in latency_sample_every by an operation count, the same for
// every strategy; key and read/write draws happen outside the timed span.
#include "workload.hpp"

#include <oneapi/tbb/concurrent_hash_map.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <bit>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vkv/vkv.hpp>

#include "locked_records.hpp"
#include "vkv/detail/version_generator.hpp"

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace vkv::workload {

namespace {

using namespace detail;  // locked_records.hpp: what the driver and the scenarios share

// The unversioned reference: a bare counter incremented under the write lock.
using RawMap =
    tbb::concurrent_hash_map<std::uint64_t, std::uint64_t, MixHashCompare,
                             std::allocator<std::pair<const std::uint64_t, std::uint64_t>>>;

// xoshiro256** seeded by splitmix64: fast, and deterministic per (seed, thread).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : generator_(seed) {}
  std::uint64_t next() noexcept { return generator_.next(); }
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  vkv::detail::Xoshiro256 generator_;
};

// One worker's counts; each worker allocates its own (first touch on its core) and
// the padding keeps neighbouring allocations off its lines.
struct alignas(64) Tally {
  std::uint64_t writes = 0, reads = 0, attempts = 0, gave_up = 0;
  Histogram latency;                   // sampled, every committed operation kind
  Histogram write_latency;             // sampled, committed writes only
  Histogram read_latency;              // sampled, reads only
  std::vector<std::uint64_t> retries;  // retries[r]: committed writes that took r retries
  char pad[64] = {};
};

// Keeps a copied record alive as far as the optimiser can tell (as
// benchmark::DoNotOptimize does, without linking Google Benchmark into the driver).
template <class T>
void benchmark_keep(const T& value) noexcept {
  asm volatile("" : : "r"(&value) : "memory");
}

// Busy work of a given length (no sleep: the window must stay on the CPU).
void spin_for(std::chrono::nanoseconds work) noexcept {
  if (work.count() <= 0) return;
  const auto until = Clock::now() + work;
  while (Clock::now() < until) {
  }
}

// The window between a write's read and its write.
void run_window(const Window& window) {
  if (window.length.count() <= 0) return;
  if (window.kind == WindowKind::busy) {
    spin_for(window.length);
  } else {
    std::this_thread::sleep_for(window.length);
  }
}

// A blocking window should overshoot by the wakeup latency, not by the default 50 us
// timer slack; set per thread, so each worker sets its own.
void tighten_timer_slack() noexcept {
#if defined(__linux__)
  (void)::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
#endif
}

}  // namespace

// ---- Arena
struct Arena::Impl {
  explicit Impl(std::size_t n) : keys(n) {}

  std::size_t keys;
  std::unique_ptr<CounterStore> optimistic;
  std::unique_ptr<CounterStore> adaptive;
  std::unique_ptr<LockedMap> locked;
  std::unique_ptr<RawMap> raw;
  std::map<double, std::unique_ptr<ZipfGenerator>> zipf;

  // Drops whatever an earlier cell built (before building anew, so two key sets never
  // share memory at once).
  void clear() {
    optimistic.reset();
    adaptive.reset();
    locked.reset();
    raw.reset();
  }
  // Fresh structures, no size hint (the store gets default options but its mode).
  CounterStore& store(bool adaptive_mode, std::chrono::nanoseconds max_wait) {
    std::unique_ptr<CounterStore>& slot = adaptive_mode ? adaptive : optimistic;
    StoreOptions options;
    options.entity_type = "Counter";
    options.contention_adaptive = adaptive_mode;
    if (max_wait.count() > 0) options.contention_max_wait = max_wait;
    slot = std::make_unique<CounterStore>(std::move(options));
    for (std::uint64_t k = 0; k < keys; ++k) slot->create(k, 0);
    return *slot;
  }
  LockedMap& map() {
    locked = std::make_unique<LockedMap>();
    for (std::uint64_t k = 0; k < keys; ++k) {
      locked->insert({k, VersionedCounter{0, vkv::detail::next_version(), 1}});
    }
    return *locked;
  }
  RawMap& raw_map() {
    raw = std::make_unique<RawMap>();
    for (std::uint64_t k = 0; k < keys; ++k) raw->insert({k, 0});
    return *raw;
  }
  const ZipfGenerator& zipf_for(double theta) {
    std::unique_ptr<ZipfGenerator>& slot = zipf[theta];
    if (!slot) slot = std::make_unique<ZipfGenerator>(keys, theta);
    return *slot;
  }
};

Arena::Arena(std::size_t keys) : impl_(std::make_unique<Impl>(keys)) {
  if (keys == 0) throw std::invalid_argument("Arena: no keys");
}
Arena::~Arena() = default;
std::size_t Arena::keys() const noexcept { return impl_->keys; }

namespace {

std::uint64_t store_sum(const CounterStore& store) {
  std::uint64_t sum = 0;
  store.for_each([&](const CounterStore::record_type& r) { sum += r.value; });
  return sum;
}
// Also checks each record's own invariant: one revision per write.
std::uint64_t map_sum(const LockedMap& map) {
  std::uint64_t sum = 0;
  for (const auto& entry : map) {
    if (entry.second.revision != entry.second.value + 1) {
      throw std::logic_error("run_cell(pessimistic): revision " +
                             std::to_string(entry.second.revision) + " after " +
                             std::to_string(entry.second.value) + " writes");
    }
    sum += entry.second.value;
  }
  return sum;
}
std::uint64_t map_sum(const RawMap& map) {
  std::uint64_t sum = 0;
  for (const auto& entry : map) sum += entry.second;
  return sum;
}

}  // namespace

CellResult run_cell(const CellConfig& config) {
  Arena arena(config.keys);
  return run_cell(config, arena);
}

CellResult run_cell(const CellConfig& config, Arena& arena) {
  if (config.threads < 1) throw std::invalid_argument("run_cell: threads < 1");
  if (config.keys != arena.keys()) throw std::invalid_argument("run_cell: arena key count");
  if (!(config.write_share >= 0 && config.write_share <= 1)) {
    throw std::invalid_argument("run_cell: write_share outside [0, 1]");
  }
  if (config.duration.count() <= 0) throw std::invalid_argument("run_cell: duration");
  if (config.latency_sample_every < 1) throw std::invalid_argument("run_cell: latency sampling");
  Arena::Impl& impl = *arena.impl_;
  impl.clear();
  const bool unversioned = config.strategy == Strategy::pessimistic_unversioned;
  const bool pessimistic = config.strategy == Strategy::pessimistic || unversioned;
  const bool adaptive = config.strategy == Strategy::adaptive;
  CounterStore* store = pessimistic ? nullptr : &impl.store(adaptive, config.contention_max_wait);
  LockedMap* map = pessimistic && !unversioned ? &impl.map() : nullptr;
  RawMap* raw = unversioned ? &impl.raw_map() : nullptr;
  const ZipfGenerator* zipf =
      config.distribution == Distribution::zipf ? &impl.zipf_for(config.zipf_theta) : nullptr;
  const RetryPolicy policy = policy_for(config);
  const std::uint64_t turns_before = store ? store->stats().turns : 0;
  // write_share as a threshold on 64 random bits (1.0 must mean "always").
  const bool always_write = config.write_share >= 1.0;
  const auto write_below = static_cast<std::uint64_t>(config.write_share * 0x1.0p64);
  const std::uint64_t keys = config.keys;
  const Window window = effective_window(config);
  const auto sample_every = static_cast<std::uint64_t>(config.latency_sample_every);
  const auto retry_bins = static_cast<std::size_t>(std::max(0, config.max_retries)) + 1;

  // relaxed: a stop signal only needs to arrive eventually; the tallies it guards are
  // read after join(), which orders them.
  std::atomic<bool> stop{false};
  std::barrier start(config.threads + 1);
  std::vector<std::unique_ptr<Tally>> tallies(static_cast<std::size_t>(config.threads));
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(config.threads));
  for (int t = 0; t < config.threads; ++t) {
    workers.emplace_back([&, t] {
      auto tally = std::make_unique<Tally>();
      tally->retries.assign(retry_bins, 0);
      Rng rng(config.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(t) + 1);
      if (window.kind == WindowKind::blocking) tighten_timer_slack();
      // Attach this thread to the store's epoch scheme before the clock starts.
      if (store) (void)store->find(0);
      // Threads start their sampling phase apart, so samples do not line up.
      std::uint64_t until_sample = 1 + static_cast<std::uint64_t>(t) % sample_every;
      start.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t key = zipf ? (*zipf)(rng.unit()) : rng.next() % keys;
        const bool write = always_write || rng.next() < write_below;
        const bool timed = --until_sample == 0;
        if (timed) until_sample = sample_every;
        const auto began = timed ? Clock::now() : Clock::time_point{};
        bool committed = true;
        std::uint64_t calls = 0;
        if (write) {
          if (map) {
            LockedMap::accessor locked;  // the key's write lock, held across the RMW
            map->find(locked, key);
            VersionedCounter& record = locked->second;
            ++record.value;
            run_window(window);
            record.version = vkv::detail::next_version();
            ++record.revision;
            calls = 1;
          } else if (raw) {
            RawMap::accessor locked;
            raw->find(locked, key);
            ++locked->second;
            run_window(window);
            calls = 1;
          } else {
            try {
              store->update_with_retry(
                  key,
                  [&calls, &window](std::uint64_t& value) {
                    ++calls, ++value;
                    run_window(window);
                  },
                  policy);
            } catch (const OptimisticLockError&) {
              committed = false;
            }
          }
          tally->attempts += calls;
        } else if (map) {
          // A read copies the record out under the key's read lock, as find() does.
          LockedMap::const_accessor locked;
          map->find(locked, key);
          const VersionedCounter copy = locked->second;
          locked.release();
          benchmark_keep(copy);
        } else if (raw) {
          RawMap::const_accessor locked;
          raw->find(locked, key);
          calls = locked->second;  // the read itself; the value is not used
        } else {
          committed = store->find(key).has_value();
        }
        const auto ended = timed ? Clock::now() : Clock::time_point{};
        if (!committed) {
          ++tally->gave_up;
          continue;
        }
        if (timed) {
          const auto ns = static_cast<std::uint64_t>((ended - began).count());
          tally->latency.add(ns);
          (write ? tally->write_latency : tally->read_latency).add(ns);
        }
        if (write) {
          ++tally->writes;
          ++tally->retries[std::min<std::size_t>(calls - 1, retry_bins - 1)];
        } else {
          ++tally->reads;
        }
      }
      tallies[static_cast<std::size_t>(t)] = std::move(tally);
    });
  }

  start.arrive_and_wait();
  const auto began = Clock::now();
  const auto deadline = began + config.duration;
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    std::this_thread::sleep_until(std::min(deadline, now + std::chrono::milliseconds(50)));
    if (config.progress) {
      const double done = std::chrono::duration<double>(Clock::now() - began) / config.duration;
      config.progress(std::min(1.0, done));
    }
  }
  CellResult result;
  result.config = config;
  result.seconds = stop_and_join(stop, workers, began);
  Histogram latency, write_latency, read_latency;
  std::vector<std::uint64_t> retries(retry_bins, 0);
  for (const auto& tally : tallies) {
    result.writes += tally->writes;
    result.reads += tally->reads;
    result.attempts += tally->attempts;
    result.gave_up += tally->gave_up;
    latency.merge(tally->latency);
    write_latency.merge(tally->write_latency);
    read_latency.merge(tally->read_latency);
    for (std::size_t r = 0; r < retry_bins; ++r) retries[r] += tally->retries[r];
  }
  result.committed = result.writes + result.reads;
  // Every attempt that did not commit failed its compare-and-swap.
  result.conflicts = result.attempts - result.writes;
  result.goodput = result.seconds > 0 ? static_cast<double>(result.committed) / result.seconds : 0;
  result.conflict_rate = result.attempts == 0 ? 0
                                              : static_cast<double>(result.conflicts) /
                                                    static_cast<double>(result.attempts);
  if (result.writes > 0) {
    std::uint64_t sum = 0;
    for (std::size_t r = 0; r < retry_bins; ++r) sum += r * retries[r];
    result.retries_mean = static_cast<double>(sum) / static_cast<double>(result.writes);
    const auto rank =
        static_cast<std::uint64_t>(std::ceil(0.99 * static_cast<double>(result.writes)));
    std::uint64_t seen = 0;
    for (std::size_t r = 0; r < retry_bins; ++r) {
      seen += retries[r];
      if (seen >= rank) {
        result.retries_p99 = static_cast<double>(r);
        break;
      }
    }
  }
  result.latency_p50_ns = latency.quantile(0.50);
  result.latency_p99_ns = latency.quantile(0.99);
  result.latency_p999_ns = latency.quantile(0.999);
  result.write_latency_p50_ns = write_latency.quantile(0.50);
  result.write_latency_p99_ns = write_latency.quantile(0.99);
  result.write_latency_p999_ns = write_latency.quantile(0.999);
  result.latency_samples = latency.total();
  result.read_latency_p50_ns = read_latency.quantile(0.50);
  result.read_latency_p99_ns = read_latency.quantile(0.99);
  result.read_latency_p999_ns = read_latency.quantile(0.999);
  result.read_latency_max_ns = static_cast<double>(read_latency.max());
  result.write_latency_max_ns = static_cast<double>(write_latency.max());
  if (store) result.turns = store->stats().turns - turns_before;

  // The invariant: no update lost, none counted twice (the structures were fresh).
  const std::uint64_t total = result.writes;
  const std::uint64_t sum = raw ? map_sum(*raw) : map ? map_sum(*map) : store_sum(*store);
  if (sum != total) {
    throw std::logic_error("run_cell(" + std::string(strategy_name(config.strategy)) +
                           "): sum of counters " + std::to_string(sum) + " != committed writes " +
                           std::to_string(total));
  }
  return result;
}

}  // namespace vkv::workload
