// vkv-lab sweep --redis: every strategy over a Redis server (see redis_lab.hpp).
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vkv/redis.hpp>

#include "redis_lab.hpp"
#include "redis_lock.hpp"
#include "workload/locked_records.hpp"

namespace vkv::lab {

const char* const kRedisPessimisticNote =
    "pessimistic over Redis is a lock per key: SET <lock> <token> NX PX 1000, retried after "
    "20-100 us while another holds it, then find + update_with_version of the record, then a "
    "script that deletes the lock only if it still holds the token: four round trips per "
    "write where update_with_retry needs one";

namespace {

using workload::Strategy;
using Histogram = workload::detail::Histogram;

RetryPolicy policy_of(Strategy s) {
  RetryPolicy p;
  p.max_retries = 1000;  // compare by wasted work, not by giving up (as the in-process sweep)
  // Redis round trips are tens of microseconds: delays in that range, not the in-process
  // store's 500 ns base and 50 us cap.
  p.retry_delay = std::chrono::microseconds(50);
  p.max_delay = std::chrono::milliseconds(5);
  // The lock's own waits (pessimistic) back off with full jitter too.
  const auto jitter = s == Strategy::pessimistic ? Jitter::full : workload::jitter_of(s);
  if (!jitter) {
    throw std::invalid_argument("--redis: strategy " + std::string(workload::strategy_name(s)) +
                                " is an in-process reference only (use the strategies of "
                                "--strategies all)");
  }
  p.jitter = *jitter;
  if (s == Strategy::no_backoff) p.retry_delay = std::chrono::nanoseconds(0);
  return p;
}

std::string fresh_id() {
  std::random_device rd;
  std::ostringstream os;
  os << "sweep-" << std::hex << rd() << rd();
  return os.str();
}

// What one worker counts; merged after join().
struct Tally {
  std::uint64_t writes = 0, attempts = 0, gave_up = 0, turns = 0, lock_waits = 0;
  Histogram latency, retries;
};

class CellRunner {
 public:
  CellRunner(const std::string& uri, int threads, std::size_t keys, Strategy strategy)
      : uri_(uri),
        keys_(keys),
        strategy_(strategy),
        policy_(policy_of(strategy)),
        store_(options(uri, threads, entity_)),
        turns_(keys) {
    for (std::size_t k = 0; k < keys; ++k) store_.create(key(k), 0);
  }

  static std::string key(std::size_t k) { return "k" + std::to_string(k); }
  redis::Store<std::int64_t>& store() { return store_; }

  // The worker's loop until `stop`: one increment per operation, the strategy's way.
  void work(std::uint64_t seed, const std::atomic<bool>& stop, Tally& tally) {
    std::mt19937_64 rng(seed);
    std::unique_ptr<RedisLockClient> lock;
    if (strategy_ == Strategy::pessimistic) lock = std::make_unique<RedisLockClient>(uri_, seed);
    // relaxed: a stop flag; the tallies are read after join().
    for (std::uint64_t op = 0; !stop.load(std::memory_order_relaxed); ++op) {
      const std::size_t k = rng() % keys_;
      const bool timed = op % 8 == 0;  // as vkv_workload: one operation in eight is timed
      const auto start =
          timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
      std::uint64_t attempts = 0;
      bool committed = true;
      try {
        if (strategy_ == Strategy::pessimistic) {
          attempts = locked_increment(*lock, k, tally.lock_waits);
        } else if (strategy_ == Strategy::adaptive) {
          attempts = adaptive_increment(k, tally.turns);
        } else {
          store_.update_with_retry(
              key(k), [&](std::int64_t& v) { ++attempts, ++v; }, policy_);
        }
      } catch (const OptimisticLockError&) {
        committed = false;
      }
      tally.attempts += attempts;
      if (!committed) {
        ++tally.gave_up;
        continue;
      }
      ++tally.writes;
      tally.retries.add(attempts - 1);
      if (timed) {
        tally.latency.add(
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::steady_clock::now() - start)
                                           .count()));
      }
    }
  }

 private:
  static redis::Options options(const std::string& uri, int threads, std::string& entity) {
    entity = fresh_id();
    redis::Options o;
    o.nodes = {uri};
    o.key_prefix = "vkv-lab";
    o.entity_type = entity;
    o.connections_per_node = static_cast<std::size_t>(threads);
    o.default_ttl = std::chrono::hours(1);
    return o;
  }

  // Full jitter with one retry; a writer that loses that too takes the key's turn (a
  // process-local mutex: this process's writers of the key queue, other processes are
  // not coordinated) and retries holding it. The in-process store's adaptive turns,
  // approximated for a store that has none.
  std::uint64_t adaptive_increment(std::size_t k, std::uint64_t& turns) {
    std::uint64_t attempts = 0;
    RetryPolicy first = policy_;
    first.max_retries = 1;
    try {
      store_.update_with_retry(
          key(k), [&](std::int64_t& v) { ++attempts, ++v; }, first);
      return attempts;
    } catch (const OptimisticLockError&) {
    }
    std::lock_guard<std::mutex> turn(turns_[k]);
    const std::uint64_t before = attempts;
    try {
      store_.update_with_retry(
          key(k), [&](std::int64_t& v) { ++attempts, ++v; }, policy_);
    } catch (const OptimisticLockError&) {
      turns += attempts - before;
      throw;
    }
    turns += attempts - before;
    return attempts;
  }

  // The lock, then read and version-checked write; a conflict (the lock expired under
  // a slow holder) reads again. Returns the write attempts.
  std::uint64_t locked_increment(RedisLockClient& lock, std::size_t k, std::uint64_t& waits) {
    const std::string name = "vkv-lab:" + entity_ + "-lock:" + key(k);
    const std::string token = lock.acquire(name, std::chrono::milliseconds(1000), &waits);
    std::uint64_t attempts = 0;
    for (;;) {
      ++attempts;
      const auto record = store_.find(key(k));
      if (!record) throw std::runtime_error("redis sweep: key " + key(k) + " vanished");
      if (store_.try_update_with_version(key(k), record->version, record->value + 1).ok()) break;
    }
    lock.release(name, token);
    return attempts;
  }

  std::string uri_;
  std::string entity_;
  std::size_t keys_;
  Strategy strategy_;
  RetryPolicy policy_;
  redis::Store<std::int64_t> store_;
  std::vector<std::mutex> turns_;
};

RedisSweepCell run_cell(const std::string& uri, int threads, std::size_t keys, Strategy strategy,
                        std::chrono::milliseconds duration, std::uint64_t seed) {
  RedisSweepCell cell;
  workload::CellResult& r = cell.result;
  r.config.threads = threads;
  r.config.keys = keys;
  r.config.strategy = strategy;
  r.config.duration = duration;
  r.config.seed = seed;
  CellRunner runner(uri, threads, keys, strategy);
  std::atomic<bool> stop{false};
  std::vector<Tally> tallies(static_cast<std::size_t>(threads));
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  // A worker's error (the server gone, a connection refused) stops the cell and is
  // rethrown here after every worker joined: never std::terminate from a thread.
  std::mutex error_mutex;
  std::condition_variable failed;
  std::exception_ptr error;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        runner.work(seed * 1000003 + static_cast<std::uint64_t>(t), stop,
                    tallies[static_cast<std::size_t>(t)]);
      } catch (...) {
        const std::lock_guard<std::mutex> hold(error_mutex);
        if (!error) error = std::current_exception();
        stop.store(true, std::memory_order_relaxed);  // relaxed: a stop flag (see work())
        failed.notify_one();
      }
    });
  }
  {
    // The cell's length, cut short by a worker's error.
    std::unique_lock<std::mutex> hold(error_mutex);
    failed.wait_until(hold, start + duration, [&] { return error != nullptr; });
  }
  stop.store(true, std::memory_order_relaxed);  // relaxed: a stop flag (see work())
  for (auto& w : workers) w.join();
  if (error) std::rethrow_exception(error);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Tally all;
  for (const Tally& t : tallies) {
    all.writes += t.writes, all.attempts += t.attempts, all.gave_up += t.gave_up;
    all.turns += t.turns, all.lock_waits += t.lock_waits;
    all.latency.merge(t.latency);
    all.retries.merge(t.retries);
  }
  r.writes = r.committed = all.writes;
  r.attempts = all.attempts;
  // Every attempt but a committed write's last one lost (a give-up's attempts all lost).
  r.conflicts = all.attempts - all.writes;
  r.gave_up = all.gave_up;
  r.turns = all.turns;
  r.goodput = r.seconds > 0 ? static_cast<double>(r.committed) / r.seconds : 0;
  r.conflict_rate =
      r.attempts > 0 ? static_cast<double>(r.conflicts) / static_cast<double>(r.attempts) : 0;
  r.retries_mean =
      r.writes > 0 ? static_cast<double>(r.conflicts) / static_cast<double>(r.writes) : 0;
  r.retries_p99 = all.retries.quantile(0.99);
  r.latency_p50_ns = r.write_latency_p50_ns = all.latency.quantile(0.50);
  r.latency_p99_ns = r.write_latency_p99_ns = all.latency.quantile(0.99);
  r.latency_p999_ns = r.write_latency_p999_ns = all.latency.quantile(0.999);
  r.write_latency_max_ns = static_cast<double>(all.latency.max());
  r.latency_samples = all.latency.total();
  cell.lock_waits = all.lock_waits;
  for (std::size_t k = 0; k < keys; ++k) {
    cell.counter_sum += runner.store().find(CellRunner::key(k))->value;
  }
  cell.counters_add_up = cell.counter_sum == static_cast<std::int64_t>(r.writes);
  return cell;
}

}  // namespace

void check_redis_strategies(const std::vector<Strategy>& strategies) {
  for (auto s : strategies) policy_of(s);
}

std::vector<RedisSweepCell> run_redis_sweep(const std::string& uri, const RedisSweepPlan& plan) {
  check_redis_strategies(plan.strategies);  // refuse before running anything
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

std::string redis_counters_table(const std::vector<RedisSweepCell>& cells) {
  std::ostringstream os;
  char line[200];
  std::snprintf(line, sizeof line, "%7s %6s  %-20s %10s %12s %10s  %s\n", "threads", "keys",
                "strategy", "committed", "counter sum", "lock waits", "counters");
  os << line;
  for (const auto& c : cells) {
    const auto& r = c.result;
    std::snprintf(line, sizeof line, "%7d %6zu  %-20s %10llu %12lld %10llu  %s\n", r.config.threads,
                  r.config.keys, std::string(workload::strategy_name(r.config.strategy)).c_str(),
                  static_cast<unsigned long long>(r.writes), static_cast<long long>(c.counter_sum),
                  static_cast<unsigned long long>(c.lock_waits),
                  c.counters_add_up ? "add up" : "DO NOT ADD UP");
    os << line;
  }
  return os.str();
}

}  // namespace vkv::lab
