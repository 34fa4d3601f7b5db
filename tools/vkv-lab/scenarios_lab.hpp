// Internal to vkv-lab: the stalled-holder and thundering-herd scenarios
// (workload/scenarios.hpp) as the lab runs and shows them: which strategies, the text
// tables, the computed findings, and their sections of the HTML and JSON reports.
#pragma once

#include <string>
#include <vector>

#include "workload/scenarios.hpp"

namespace vkv::lab {

// `run` (workload::run_stall or workload::run_herd) once per strategy, in the order
// given, each on `config` with that strategy (config.strategy is ignored).
template <class Config, class Result>
std::vector<Result> run_per_strategy(const Config& config,
                                     const std::vector<workload::Strategy>& strategies,
                                     Result (*run)(const Config&)) {
  std::vector<Result> results;
  for (const workload::Strategy strategy : strategies) {
    Config one = config;
    one.strategy = strategy;
    results.push_back(run(one));
  }
  return results;
}

std::string stall_table(const std::vector<workload::StallResult>& results);
// "During the 20 ms stall, readers completed N reads under full-jitter against M under
// the lock (…×); …", computed; "" without a pessimistic and a retrying run.
std::string stall_finding(const std::vector<workload::StallResult>& results);
std::string stall_html(const std::vector<workload::StallResult>& results,
                       const std::string& finding);
std::string stall_json(const std::vector<workload::StallResult>& results);

std::string herd_table(const std::vector<workload::HerdResult>& results);
// Whether AWS's result (jitter cuts both the attempts and the time to the last commit,
// against exponential backoff without jitter) holds in these runs, computed.
std::string herd_finding(const std::vector<workload::HerdResult>& results);
std::string herd_html(const std::vector<workload::HerdResult>& results, const std::string& finding);
std::string herd_json(const std::vector<workload::HerdResult>& results);

}  // namespace vkv::lab
