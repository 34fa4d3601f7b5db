// Runs the cells of a sweep (windows x threads x keys x strategies) through vkv_workload, with a
// progress bar on stderr when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "workload/workload.hpp"

namespace vkv::lab {

struct SweepPlan {
  // The read-modify-write windows (workload::Window); one no-window entry by default.
  std::vector<workload::Window> windows{workload::Window{}};
  std::vector<int> threads;
  std::vector<std::size_t> keys;
  std::vector<workload::Strategy> strategies;
  workload::Distribution distribution = workload::Distribution::uniform;
  double zipf_theta = 0.99;
  // Shares of operations that write (the rest read); one sweep per share.
  std::vector<double> write_shares{1.0};
  std::chrono::milliseconds duration{200};
  std::uint64_t seed = 42;
  int escalate_after = RetryPolicy{}.escalate_after;  // RetryPolicy::escalate_after

  std::size_t cell_count() const {
    return write_shares.size() * windows.size() * threads.size() * keys.size() * strategies.size();
  }
};

// Cells in order write share, then window, then threads, then keys, then strategy (so one setting's
// strategies are adjacent, and one (share, window)'s settings, as the report groups them). Every
// cell uses the same seed: strategies in one setting then face the same key sequence.
std::vector<workload::CellResult> run_sweep(const SweepPlan& plan);

}  // namespace vkv::lab
