// vkv-lab sweep --redis: retry strategies over a Redis server (see redis_lab.hpp).
#include <atomic>
#include <cstdio>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vkv/redis.hpp>

#include "redis_lab.hpp"

namespace vkv::lab {

namespace {

RetryPolicy policy_of(workload::Strategy s) {
  RetryPolicy p;
  p.max_retries = 1000;  // compare by wasted work, not by giving up (as the in-process sweep)
  // Redis round trips are tens of microseconds: delays in that range, not the in-process
  // store's 500 ns base and 50 us cap.
  p.retry_delay = std::chrono::microseconds(50);
  p.max_delay = std::chrono::milliseconds(5);
  switch (s) {
    case workload::Strategy::no_backoff:
      p.retry_delay = std::chrono::nanoseconds(0);
      p.jitter = Jitter::none;
      break;
    case workload::Strategy::exponential:
      p.jitter = Jitter::none;
      break;
    case workload::Strategy::full_jitter:
      p.jitter = Jitter::full;
      break;
    case workload::Strategy::equal_jitter:
      p.jitter = Jitter::equal;
      break;
    case workload::Strategy::decorrelated_jitter:
      p.jitter = Jitter::decorrelated;
      break;
    default:
      throw std::invalid_argument("--redis: strategy " + std::string(workload::strategy_name(s)) +
                                  " needs the in-process store (use no-backoff, exponential, "
                                  "full-jitter, equal-jitter or decorrelated-jitter)");
  }
  return p;
}

std::string fresh_id() {
  std::random_device rd;
  std::ostringstream os;
  os << "sweep-" << std::hex << rd() << rd();
  return os.str();
}

RedisSweepCell run_cell(const std::string& uri, int threads, std::size_t keys,
                        workload::Strategy strategy, std::chrono::milliseconds duration,
                        std::uint64_t seed) {
  RedisSweepCell cell{threads, keys, strategy};
  RetryPolicy policy = policy_of(strategy);
  redis::Options o;
  o.nodes = {uri};
  o.key_prefix = "vkv-lab";
  o.entity_type = fresh_id();
  o.connections_per_node = static_cast<std::size_t>(threads);
  o.default_ttl = std::chrono::hours(1);
  redis::Store<std::int64_t> store(std::move(o));
  for (std::size_t k = 0; k < keys; ++k) store.create("k" + std::to_string(k), 0);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> gave_up{0};
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 1000003 + static_cast<std::uint64_t>(t));
      // relaxed: a stop flag; the counts are read after join().
      while (!stop.load(std::memory_order_relaxed)) {
        const std::string id = "k" + std::to_string(rng() % keys);
        try {
          store.update_with_retry(
              id, [](std::int64_t& v) { ++v; }, policy);
        } catch (const OptimisticLockError&) {
          gave_up.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(duration);  // the cell's length, not a synchronisation
  stop.store(true, std::memory_order_relaxed);
  for (auto& w : workers) w.join();
  cell.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const StoreStats stats = store.stats();
  cell.committed = stats.writes;
  cell.conflicts = stats.conflicts;
  cell.gave_up = gave_up.load();
  std::int64_t sum = 0;
  for (std::size_t k = 0; k < keys; ++k) sum += store.find("k" + std::to_string(k))->value;
  cell.counters_add_up = sum == static_cast<std::int64_t>(cell.committed);
  return cell;
}

}  // namespace

std::vector<RedisSweepCell> run_redis_sweep(const std::string& uri, const RedisSweepPlan& plan) {
  for (auto s : plan.strategies) policy_of(s);  // refuse before running anything
  std::vector<RedisSweepCell> cells;
  for (int threads : plan.threads) {
    for (std::size_t keys : plan.keys) {
      for (auto strategy : plan.strategies) {
        cells.push_back(run_cell(uri, threads, keys, strategy, plan.duration, plan.seed));
      }
    }
  }
  return cells;
}

std::string redis_sweep_table(const std::vector<RedisSweepCell>& cells) {
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof line, "%7s %6s  %-20s %12s %10s %9s %8s  %s\n", "threads", "keys",
                "strategy", "goodput/s", "committed", "conflicts", "gave up", "counters");
  os << line;
  for (const auto& c : cells) {
    std::snprintf(
        line, sizeof line, "%7d %6zu  %-20s %12.0f %10llu %9llu %8llu  %s\n", c.threads, c.keys,
        std::string(workload::strategy_name(c.strategy)).c_str(),
        c.seconds > 0 ? static_cast<double>(c.committed) / c.seconds : 0.0,
        static_cast<unsigned long long>(c.committed), static_cast<unsigned long long>(c.conflicts),
        static_cast<unsigned long long>(c.gave_up), c.counters_add_up ? "add up" : "DO NOT ADD UP");
    os << line;
  }
  return os.str();
}

}  // namespace vkv::lab
