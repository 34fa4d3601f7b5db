// Two scenarios of vkv-lab beside the steady-state cells of workload.hpp, on the same
// structures (vkv::Store for the retrying strategies, the locked map of versioned
// records for pessimistic):
//
//   stalled holder: one writer stalls inside its read-modify-write (a page fault, a GC
//     pause, a descheduled thread: a sleep while holding what it holds) while others
//     read and write the same keys. Under the lock it holds the key's write lock across
//     the stall; under vkv it sits between its read and its compare-and-swap.
//   thundering herd: N threads released together each commit one write to the same
//     record (the AWS "Exponential Backoff And Jitter" experiment with real threads).
//
// Thread safety: each run_* call starts and joins its own threads; calls are independent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "workload.hpp"

namespace vkv::workload {

struct StallConfig {
  Strategy strategy = Strategy::full_jitter;
  int threads = 4;           // readers and writers beside the stalled writer
  std::size_t keys = 1;      // key 0 is the one the stalled writer holds
  double write_share = 0.1;  // of the other threads' operations
  std::chrono::milliseconds duration{120};
  std::chrono::milliseconds stall_at{40};  // when the stalled writer starts its write
  std::chrono::milliseconds stall{20};     // how long it stalls inside it
  std::chrono::microseconds bucket{5000};  // the timeline's resolution
  std::uint64_t seed = 42;
};

struct StallResult {
  StallConfig config;
  double seconds = 0;
  // Operations the other threads completed in each bucket of the run.
  std::vector<std::uint64_t> reads_per_bucket, writes_per_bucket;
  std::uint64_t reads = 0, writes = 0;
  // Completed between the stall's start and end (the stalled writer's own write is
  // not counted).
  std::uint64_t reads_during_stall = 0, writes_during_stall = 0;
  double stall_began_ms = 0, stall_ended_ms = 0;  // from the start of the run
  // Every read and write of the other threads is timed.
  double read_p99_ns = 0, read_max_ns = 0, write_p99_ns = 0, write_max_ns = 0;
  int stalled_writer_attempts = 0;  // vkv: it retries if someone wrote key 0 meanwhile
};

// Throws std::invalid_argument for a bad config (threads < 1, keys < 1, stall_at +
// stall >= duration, bucket <= 0) and std::logic_error if an update was lost.
StallResult run_stall(const StallConfig& config);

struct HerdConfig {
  Strategy strategy = Strategy::full_jitter;
  int threads = 64;
  Window window{};  // each write's read-modify-write window
  int rounds = 20;  // fresh record per round; the same threads
  std::uint64_t seed = 42;
};

struct HerdResult {
  HerdConfig config;
  // Per round: attempts of all threads together, and the time from the release until
  // the last thread committed; mean and worst over the rounds.
  double attempts_mean = 0, attempts_max = 0;
  double last_commit_mean_us = 0, last_commit_max_us = 0;
  int most_attempts_one_write = 0;  // the unluckiest thread of any round
};

// Throws std::invalid_argument for a bad config (threads outside [1, 1024], rounds < 1)
// and std::logic_error if a round's record did not end at `threads` writes.
HerdResult run_herd(const HerdConfig& config);

}  // namespace vkv::workload
