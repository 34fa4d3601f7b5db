// What vkv-lab prints and writes about a sweep: the text table, the finding computed
// from the measured numbers, and the JSON, CSV and self-contained HTML (inline SVG
// charts) report files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "race.hpp"
#include "workload/scenarios.hpp"
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
  // The stalled holder and the thundering herd (scenarios_lab.hpp); empty when not run.
  std::vector<workload::StallResult> stalls;
  std::string stall_finding;
  std::vector<workload::HerdResult> herds;
  std::string herd_finding;
  double wall_seconds = 0;
};

// The finding, computed from `cells` only (see analysis.hpp): per window, which
// strategy had the best goodput in which thread x key settings; the best retrying
// strategy's goodput over pessimistic's per window; the strategy with the lowest p99.
std::string finding(const std::vector<workload::CellResult>& cells);

// The sweep as an aligned text table, one block per setting (threads x keys x window);
// '*' marks the best goodput and the lowest p99 of each setting, "vs lock" is goodput
// over pessimistic's in the same setting.
std::string text_table(const std::vector<workload::CellResult>& cells);

// The story of the race's first round and the counts over all rounds, as text.
std::string race_story(const RaceSummary& race);

std::string to_json(const Report& report);
std::string to_csv(const Report& report);
std::string to_html(const Report& report);

}  // namespace vkv::lab
