// Internal to vkv-lab: how a sweep's cells are grouped into settings and what is
// computed from them (winners, ratios, the finding). Everything here reads the
// measured figures only; nothing is assumed about which strategy should win.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "workload/workload.hpp"

namespace vkv::lab {

// The cells that share threads, keys, the key distribution, the write share and the
// window: one setting, one row group of the strategy comparison.
struct Scenario {
  // "2 threads × 8 keys" (+ ", 90% reads" when read shares vary, + ", busy 10 µs" when
  // windows vary)
  std::string label;
  workload::Window window;
  double write_share = 1.0;
  // The read share and window part of the label ("90% reads, busy 10 µs", or the
  // window alone when every cell has the same share): one row group of the report.
  std::string group;
  std::vector<const workload::CellResult*> cells;  // one per strategy, in sweep order
};

// "no window", "busy 1 µs", "blocking 100 µs".
std::string window_label(const workload::Window& window);
// "90% reads" for a write share of 0.1.
std::string read_share_label(double write_share);

// Settings in the order their first cell appears.
std::vector<Scenario> scenarios_of(const std::vector<workload::CellResult>& cells);
// The scenarios grouped by (read share, window), in order of first appearance.
std::vector<std::vector<Scenario>> by_window(const std::vector<Scenario>& scenarios);
// The label without its window part (for a group that names its window once).
std::string setting_only(const Scenario& scenario);
// Strategies in the order they first appear.
std::vector<workload::Strategy> strategies_of(const std::vector<workload::CellResult>& cells);
const workload::CellResult* cell_for(const Scenario& scenario, workload::Strategy strategy);
// The scenarios without the pessimistic (lock-based) cells.
std::vector<Scenario> without_locking(std::vector<Scenario> scenarios);
const workload::CellResult* best_goodput(const Scenario& scenario);
const workload::CellResult* lowest_p99(const Scenario& scenario);
// The optimistic cell with the best goodput (nullptr if none).
const workload::CellResult* best_retrying(const Scenario& scenario);

// One (read share, window) group measured against the lock: the best retrying strategy of
// each setting over pessimistic's goodput (lowest, geometric mean, highest), how many
// settings it was ahead in, and the read p99 of that strategy over the lock's (geometric
// mean; 0 when the group has no reads).
struct GroupVersusLock {
  std::string group;
  double write_share = 1.0;
  workload::Window window;
  int settings = 0, ahead = 0;
  double low = 0, mean = 0, high = 0;
  double read_p99_ratio = 0;
  std::string winners;  // where_each_wins for the group
};
std::vector<GroupVersusLock> versus_lock(const std::vector<workload::CellResult>& cells);

// Whether a pessimistic cell is among `cells`, and the note said wherever it appears.
bool has_pessimistic(const std::vector<workload::CellResult>& cells);
extern const char* const kPessimisticNote;

// "150 ms per cell, 100% writes, keys chosen uniformly, seed 42".
std::string sweep_parameters(const std::vector<workload::CellResult>& cells);

// One paragraph computed from `cells`: per window, which strategy had the best goodput
// in which settings; the best retrying strategy's goodput against pessimistic per
// window (when both ran); the strategy with the lowest p99 in the most settings.
std::string finding(const std::vector<workload::CellResult>& cells);

}  // namespace vkv::lab
