// What vkv-lab prints and writes about a sweep: the text table, the finding computed
// from the measured numbers, and the JSON, CSV and self-contained HTML (inline SVG
// charts) report files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "race.hpp"
#include "workload/workload.hpp"

namespace vkv::lab {

struct Machine {
  unsigned cpus = 0;      // std::thread::hardware_concurrency()
  std::string cpu_model;  // /proc/cpuinfo "model name", or "unknown"
  // /proc/loadavg's 1-minute figure when the run began (negative if unknown): on a
  // shared machine it says how much the CPUs were also busy with other work.
  double load_average = -1;
};
Machine describe_machine();

// Now, as 2026-11-27T23:59:59Z.
std::string utc_timestamp();

struct Report {
  std::string command;  // as typed, for the reader to rerun
  std::string date;     // utc_timestamp() when the run began
  Machine machine;
  std::optional<RaceSummary> race;  // the demo's part 1; absent for `vkv-lab sweep`
  std::vector<workload::CellResult> cells;
  std::string finding;  // finding(cells)
  double wall_seconds = 0;
};

// One sentence naming the strategy with the best goodput in the most cells (and its
// margin over no-backoff) and the one with the lowest p99 latency in the most cells.
// Computed from `cells` only; cells with the same threads and keys form one scenario.
std::string finding(const std::vector<workload::CellResult>& cells);

// The sweep as an aligned text table, one block per scenario; '*' marks the best
// goodput and the lowest p99 of each scenario.
std::string text_table(const std::vector<workload::CellResult>& cells);

// The story of the race's first round and the counts over all rounds, as text.
std::string race_story(const RaceSummary& race);

std::string to_json(const Report& report);
std::string to_csv(const Report& report);
std::string to_html(const Report& report);

}  // namespace vkv::lab
