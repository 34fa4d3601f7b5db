// The stalled-holder and thundering-herd scenarios (see scenarios.hpp).
#include "scenarios.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vkv/vkv.hpp>

#include "locked_records.hpp"

namespace vkv::workload {
namespace {

using namespace detail;  // locked_records.hpp: what the driver and the scenarios share

// The resolution at which completions are counted; the timeline sums these.
constexpr std::chrono::microseconds kFine{100};

bool is_pessimistic(Strategy strategy) {
  return strategy == Strategy::pessimistic || strategy == Strategy::pessimistic_unversioned;
}

std::unique_ptr<CounterStore> make_store(Strategy strategy, std::size_t keys) {
  StoreOptions options;
  options.entity_type = "Counter";
  options.contention_adaptive = strategy == Strategy::adaptive;
  auto store = std::make_unique<CounterStore>(std::move(options));
  for (std::uint64_t k = 0; k < keys; ++k) store->create(k, 0);
  return store;
}

std::unique_ptr<LockedMap> make_map(std::size_t keys) {
  auto map = std::make_unique<LockedMap>();
  for (std::uint64_t k = 0; k < keys; ++k) {
    map->insert({k, VersionedCounter{0, vkv::detail::next_version(), 1}});
  }
  return map;
}

RetryPolicy policy_of(Strategy strategy) {
  CellConfig cell;
  cell.strategy = strategy;
  return policy_for(cell);
}

// One read-modify-write of `key`; `window` runs between read and write (inside the
// lock for pessimistic). Returns the attempts it took.
template <class Window>
int write_once(CounterStore* store, LockedMap* map, const RetryPolicy& policy, std::uint64_t key,
               Window&& window) {
  if (map != nullptr) {
    LockedMap::accessor locked;  // the key's write lock, held across the window
    map->find(locked, key);
    VersionedCounter& record = locked->second;
    ++record.value;
    window(1);
    record.version = vkv::detail::next_version();
    ++record.revision;
    return 1;
  }
  int calls = 0;
  store->update_with_retry(
      key,
      [&](std::uint64_t& value) {
        ++value;
        window(++calls);
      },
      policy);
  return calls;
}

std::uint64_t sum_of(const CounterStore* store, const LockedMap* map) {
  std::uint64_t sum = 0;
  if (map != nullptr) {
    for (const auto& entry : *map) sum += entry.second.value;
  } else {
    store->for_each([&](const CounterStore::record_type& r) { sum += r.value; });
  }
  return sum;
}

struct StallTally {
  std::vector<std::uint64_t> reads, writes;  // per kFine bucket
  Histogram read_latency, write_latency;
};

}  // namespace

StallResult run_stall(const StallConfig& config) {
  if (config.threads < 1 || config.keys < 1 || config.bucket.count() <= 0 ||
      config.stall.count() <= 0 || config.stall_at + config.stall >= config.duration ||
      !(config.write_share >= 0 && config.write_share <= 1)) {
    throw std::invalid_argument("run_stall: bad config");
  }
  const bool locked = is_pessimistic(config.strategy);
  std::unique_ptr<CounterStore> store = locked ? nullptr : make_store(config.strategy, config.keys);
  std::unique_ptr<LockedMap> map = locked ? make_map(config.keys) : nullptr;
  const RetryPolicy policy = policy_of(config.strategy);
  const auto fine_buckets = static_cast<std::size_t>(config.duration / kFine) + 1;
  const auto write_below = static_cast<std::uint64_t>(config.write_share * 0x1.0p64);
  const bool always_write = config.write_share >= 1.0;

  // relaxed: a stop signal only needs to arrive eventually; what the workers counted
  // is read after join(), which orders it.
  std::atomic<bool> stop{false};
  Clock::time_point began;
  std::barrier start(config.threads + 2, [&]() noexcept { began = Clock::now(); });
  std::vector<StallTally> tallies(static_cast<std::size_t>(config.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < config.threads; ++t) {
    threads.emplace_back([&, t] {
      StallTally& tally = tallies[static_cast<std::size_t>(t)];
      tally.reads.assign(fine_buckets, 0);
      tally.writes.assign(fine_buckets, 0);
      std::uint64_t rng = config.seed * 0x9e3779b97f4a7c15ULL + static_cast<std::uint64_t>(t) + 1;
      if (store) (void)store->find(0);  // attach to the epoch scheme before the clock
      start.arrive_and_wait();
      while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t key = detail::splitmix64(rng) % config.keys;
        const bool write = always_write || detail::splitmix64(rng) < write_below;
        const auto t0 = Clock::now();
        if (write) {
          (void)write_once(store.get(), map.get(), policy, key, [](int) {});
        } else if (map) {
          LockedMap::const_accessor reading;  // the key's read lock, as a database's read
          map->find(reading, key);
          const VersionedCounter copy = reading->second;
          reading.release();
          asm volatile("" : : "r"(&copy) : "memory");
        } else {
          const auto record = store->find(key);
          asm volatile("" : : "r"(&record) : "memory");
        }
        const auto t1 = Clock::now();
        const auto ns = static_cast<std::uint64_t>((t1 - t0).count());
        const auto at = std::min(fine_buckets - 1, static_cast<std::size_t>((t1 - began) / kFine));
        if (write) {
          tally.write_latency.add(ns);
          ++tally.writes[at];
        } else {
          tally.read_latency.add(ns);
          ++tally.reads[at];
        }
      }
    });
  }
  Clock::time_point stall_began, stall_ended;
  int stalled_attempts = 0;
  threads.emplace_back([&] {
    if (store) (void)store->find(0);
    start.arrive_and_wait();
    // A scenario's schedule, not synchronisation: the stall starts at a set time.
    std::this_thread::sleep_until(began + config.stall_at);
    stalled_attempts = write_once(store.get(), map.get(), policy, 0, [&](int attempt) {
      if (attempt != 1) return;  // one pause; a retry runs at full speed
      stall_began = Clock::now();
      std::this_thread::sleep_for(config.stall);
      stall_ended = Clock::now();
    });
  });
  start.arrive_and_wait();
  std::this_thread::sleep_until(began + config.duration);
  StallResult result;
  result.config = config;
  result.seconds = stop_and_join(stop, threads, began);
  result.stall_began_ms = std::chrono::duration<double, std::milli>(stall_began - began).count();
  result.stall_ended_ms = std::chrono::duration<double, std::milli>(stall_ended - began).count();
  result.stalled_writer_attempts = stalled_attempts;
  // Fine buckets wholly inside the stall count as during it (both sides alike).
  const auto first_in = static_cast<std::size_t>((stall_began - began + kFine) / kFine);
  const auto last_in = static_cast<std::size_t>((stall_ended - began) / kFine);  // exclusive
  const auto per_bucket = static_cast<std::size_t>(config.bucket / kFine);
  const std::size_t buckets =
      (fine_buckets + per_bucket - 1) / std::max<std::size_t>(1, per_bucket);
  result.reads_per_bucket.assign(buckets, 0);
  result.writes_per_bucket.assign(buckets, 0);
  Histogram reads, writes;
  for (const StallTally& tally : tallies) {
    reads.merge(tally.read_latency);
    writes.merge(tally.write_latency);
    for (std::size_t i = 0; i < fine_buckets; ++i) {
      result.reads += tally.reads[i];
      result.writes += tally.writes[i];
      result.reads_per_bucket[i / std::max<std::size_t>(1, per_bucket)] += tally.reads[i];
      result.writes_per_bucket[i / std::max<std::size_t>(1, per_bucket)] += tally.writes[i];
      if (i >= first_in && i < last_in) {
        result.reads_during_stall += tally.reads[i];
        result.writes_during_stall += tally.writes[i];
      }
    }
  }
  result.read_p99_ns = reads.quantile(0.99);
  result.read_max_ns = static_cast<double>(reads.max());
  result.write_p99_ns = writes.quantile(0.99);
  result.write_max_ns = static_cast<double>(writes.max());
  if (sum_of(store.get(), map.get()) != result.writes + 1) {
    throw std::logic_error("run_stall(" + std::string(strategy_name(config.strategy)) +
                           "): an update was lost");
  }
  return result;
}

HerdResult run_herd(const HerdConfig& config) {
  if (config.threads < 1 || config.threads > 1024 || config.rounds < 1) {
    throw std::invalid_argument("run_herd: bad config");
  }
  const bool locked = is_pessimistic(config.strategy);
  const auto rounds = static_cast<std::size_t>(config.rounds);
  std::unique_ptr<CounterStore> store = locked ? nullptr : make_store(config.strategy, rounds);
  std::unique_ptr<LockedMap> map = locked ? make_map(rounds) : nullptr;
  const RetryPolicy policy = policy_of(config.strategy);
  const Window window = config.window;

  Clock::time_point released;
  // The completion step runs once per phase, before anyone is released: the round's
  // clock starts when the last thread has arrived.
  std::barrier gate(config.threads, [&]() noexcept { released = Clock::now(); });
  // attempts[t][r] and committed_at[t][r], written by thread t only.
  std::vector<std::vector<int>> attempts(static_cast<std::size_t>(config.threads),
                                         std::vector<int>(rounds, 0));
  std::vector<std::vector<Clock::time_point>> committed_at(static_cast<std::size_t>(config.threads),
                                                           std::vector<Clock::time_point>(rounds));
  std::vector<Clock::time_point> round_start(rounds);
  std::vector<std::thread> threads;
  for (int t = 0; t < config.threads; ++t) {
    threads.emplace_back([&, t] {
      const auto me = static_cast<std::size_t>(t);
      if (store) (void)store->find(0);
      for (std::size_t r = 0; r < rounds; ++r) {
        gate.arrive_and_wait();  // released together
        if (t == 0) round_start[r] = released;
        attempts[me][r] = write_once(store.get(), map.get(), policy, r, [&](int) {
          if (window.length.count() <= 0) return;
          if (window.kind == WindowKind::busy) {
            const auto until = Clock::now() + window.length;
            while (Clock::now() < until) {
            }
          } else {
            std::this_thread::sleep_for(window.length);
          }
        });
        committed_at[me][r] = Clock::now();
        gate.arrive_and_wait();  // the round ends for everyone
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  HerdResult result;
  result.config = config;
  for (std::size_t r = 0; r < rounds; ++r) {
    double total = 0;
    Clock::time_point last = round_start[r];
    for (std::size_t t = 0; t < attempts.size(); ++t) {
      total += attempts[t][r];
      last = std::max(last, committed_at[t][r]);
      result.most_attempts_one_write = std::max(result.most_attempts_one_write, attempts[t][r]);
    }
    const double us = std::chrono::duration<double, std::micro>(last - round_start[r]).count();
    result.attempts_mean += total / config.rounds;
    result.attempts_max = std::max(result.attempts_max, total);
    result.last_commit_mean_us += us / config.rounds;
    result.last_commit_max_us = std::max(result.last_commit_max_us, us);
  }
  const std::uint64_t sum = sum_of(store.get(), map.get());
  if (sum != static_cast<std::uint64_t>(config.threads) * rounds) {
    throw std::logic_error("run_herd(" + std::string(strategy_name(config.strategy)) +
                           "): an update was lost");
  }
  return result;
}

}  // namespace vkv::workload
