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
  std::string label;  // "2 threads × 8 keys" (+ ", busy 10 µs" when windows vary)
  workload::Window window;
  std::vector<const workload::CellResult*> cells;  // one per strategy, in sweep order
};

// "no window", "busy 1 µs", "blocking 100 µs".
std::string window_label(const workload::Window& window);

// Settings in the order their first cell appears.
std::vector<Scenario> scenarios_of(const std::vector<workload::CellResult>& cells);
// The scenarios grouped by window, in order of first appearance.
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
