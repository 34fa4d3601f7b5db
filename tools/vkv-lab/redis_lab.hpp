// vkv-lab --redis URI: the lab's race and strategy sweep against a Redis server (built
// only where the vkv::redis target exists; main.cpp then defines VKV_LAB_REDIS).
//
//   race:  the seed guide's lost-update race played by two real processes (fork), each
//          with its own connection: once with a plain GET / SET read-modify-write, once
//          with vkv::redis::Store (update_with_version, re-read and retry on conflict).
//   sweep: increments from N threads on K hot keys, per strategy, for a duration each:
//          the five retry shapes (update_with_retry with that RetryPolicy), adaptive
//          (full jitter, then a process-local turn per key after a lost retry) and
//          pessimistic (a Redis lock per key, redis_lock.hpp, around find +
//          update_with_version): goodput, conflicts, give-ups, latency, and a check that
//          the counters on the server add up to the committed writes. The cells are
//          workload::CellResult, so the in-process sweep's table and report files
//          (report.hpp) serve both.
//
// Keys live under "vkv-lab:<run id>:..." (a fresh id per run), so a run never touches
// anything else on the server; they are left there (with a one-hour TTL where vkv writes
// them) for inspection with redis-cli.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "workload/workload.hpp"

namespace vkv::lab {

struct RedisRaceSummary {
  int rounds = 0;
  int plain_lost_updates = 0;  // a GET/SET round loses one by construction
  int vkv_lost_updates = 0;    // must be 0
  int vkv_conflicts = 0;       // refused compare-and-swaps (the loser of each round)
};

// Forks two worker processes; throws std::runtime_error if the server cannot be reached
// or a worker fails. rounds >= 1.
RedisRaceSummary run_redis_race(const std::string& uri, int rounds);
std::string redis_race_story(const RedisRaceSummary& summary);

struct RedisSweepPlan {
  std::vector<int> threads;
  std::vector<std::size_t> keys;
  // Every strategy of workload::all_strategies(); pessimistic_unversioned is refused.
  std::vector<workload::Strategy> strategies;
  std::chrono::milliseconds duration{200};
  std::uint64_t seed = 42;
};

// One cell: the in-process sweep's figures (so report.hpp prints and writes them), plus
// the check against the server.
struct RedisSweepCell {
  workload::CellResult result;
  std::int64_t counter_sum = 0;  // the keys' counters as read back from the server
  bool counters_add_up = false;  // counter_sum == result.writes (each increment once)
  std::uint64_t lock_waits = 0;  // pessimistic: SET NX attempts refused (lock taken)
};

// Runs the cells in order threads, keys, strategy (as the in-process sweep). Throws
// std::invalid_argument for a strategy it cannot run over Redis (before running any),
// std::runtime_error if the server cannot be reached.
// Throws std::invalid_argument naming the first strategy the Redis sweep cannot run.
void check_redis_strategies(const std::vector<workload::Strategy>& strategies);
std::vector<RedisSweepCell> run_redis_sweep(const std::string& uri, const RedisSweepPlan& plan);
// One line per cell: committed writes against the counters read back from the server.
std::string redis_counters_table(const std::vector<RedisSweepCell>& cells);

// What "pessimistic" means over Redis, for the report in place of kPessimisticNote.
extern const char* const kRedisPessimisticNote;

}  // namespace vkv::lab
