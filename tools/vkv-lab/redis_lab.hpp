// vkv-lab --redis URI: the lab's race and strategy sweep against a Redis server (built
// only where the vkv::redis target exists; main.cpp then defines VKV_LAB_REDIS).
//
//   race:  the seed guide's lost-update race played by two real processes (fork), each
//          with its own connection: once with a plain GET / SET read-modify-write, once
//          with vkv::redis::Store (update_with_version, re-read and retry on conflict).
//   sweep: update_with_retry increments from N threads on K hot keys, per retry strategy
//          (the RetryPolicy jitter shapes), for a duration each: goodput, conflicts,
//          give-ups, and a check that the counters on the server add up to the commits.
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
  std::vector<workload::Strategy> strategies;  // optimistic ones only
  std::chrono::milliseconds duration{200};
  std::uint64_t seed = 42;
};

struct RedisSweepCell {
  int threads = 0;
  std::size_t keys = 0;
  workload::Strategy strategy{};
  std::uint64_t committed = 0, conflicts = 0, gave_up = 0;
  double seconds = 0;
  bool counters_add_up = false;  // the sum of the keys' counters == committed
};

// Throws std::invalid_argument for a strategy it cannot run over Redis (adaptive,
// pessimistic: they need the in-process store).
std::vector<RedisSweepCell> run_redis_sweep(const std::string& uri, const RedisSweepPlan& plan);
std::string redis_sweep_table(const std::vector<RedisSweepCell>& cells);

}  // namespace vkv::lab
