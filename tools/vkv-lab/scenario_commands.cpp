#include "scenario_commands.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "cli.hpp"
#include "scenarios_lab.hpp"

namespace vkv::lab {
namespace {

using workload::Strategy;

double share(const std::string& flag, const std::string& text) {
  const auto value = real_number(text);
  if (!value || !(*value >= 0 && *value <= 1)) {
    throw std::invalid_argument(flag + ": must be a number in [0, 1], got '" + text + "'");
  }
  return *value;
}

std::vector<Strategy> strategies(const std::string& text) {
  std::vector<Strategy> list;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma - start);
    if (name == "all") {
      for (Strategy s : workload::all_strategies()) list.push_back(s);
    } else if (const auto s = workload::parse_strategy(name)) {
      list.push_back(*s);
    } else {
      throw std::invalid_argument("--strategies: unknown strategy '" + name + "'");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::vector<Strategy> unique;
  for (Strategy s : list) {
    if (std::find(unique.begin(), unique.end(), s) == unique.end()) unique.push_back(s);
  }
  return unique;
}

}  // namespace

ScenarioCommands::ScenarioCommands(CLI::App& app)
    : stall_(app.add_subcommand(
          "stall", "A writer stalls inside its read-modify-write: the lock against vkv")),
      herd_(app.add_subcommand(
          "herd", "N threads released together each commit one write to the same record")) {
  text_option(stall_, "--threads", stall_threads_, "Threads beside the stalled writer (1-256)",
              "N");
  text_option(stall_, "--keys", stall_keys_, "Keys (the writer stalls on key 0)", "N");
  text_option(stall_, "--write-share", stall_share_, "Share of the others' operations that write",
              "P");
  text_option(stall_, "--stall-ms", stall_ms_, "Milliseconds the writer stalls (1-1000)", "MS");
  text_option(stall_, "--strategies", stall_strategies_,
              "Retrying strategies to set against pessimistic (always run)", "A,B,...");
  text_option(herd_, "--threads", herd_threads_, "Threads (1-64)", "N");
  text_option(herd_, "--rounds", herd_rounds_, "Rounds, a fresh record each", "N");
  text_option(herd_, "--window", herd_window_, "Each write's window (0, busy-10us, ...)", "W");
  text_option(herd_, "--strategies", herd_strategies_, "Comma-separated, or all", "A,B,...");
}

int ScenarioCommands::run() const {
  try {
    return stall_->parsed() ? run_stall() : run_herd();
  } catch (const std::invalid_argument& error) {
    std::cerr << "vkv-lab: error: " << error.what() << '\n';
    return 2;
  }
}

int ScenarioCommands::run_stall() const {
  workload::StallConfig config;
  config.threads = static_cast<int>(whole_in("--threads", stall_threads_, 1, 256));
  config.keys = static_cast<std::size_t>(whole_in("--keys", stall_keys_, 1, 1'000'000));
  config.write_share = share("--write-share", stall_share_);
  config.stall = std::chrono::milliseconds(whole_in("--stall-ms", stall_ms_, 1, 1000));
  config.duration = 3 * config.stall + std::chrono::milliseconds(60);
  std::vector<Strategy> list{Strategy::pessimistic};
  for (Strategy s : strategies(stall_strategies_)) {
    if (s != Strategy::pessimistic) list.push_back(s);
  }
  const auto results = run_per_strategy(config, list, workload::run_stall);
  std::cout << "A stalled holder: one writer stalls " << config.stall.count()
            << " ms inside its read-modify-write of key 0.\n\n"
            << stall_table(results) << "\nFinding: " << stall_finding(results) << '\n';
  return 0;
}

int ScenarioCommands::run_herd() const {
  workload::HerdConfig config;
  config.threads = static_cast<int>(whole_in("--threads", herd_threads_, 1, 64));
  config.rounds = static_cast<int>(whole_in("--rounds", herd_rounds_, 1, 1000));
  const auto window = workload::parse_window(herd_window_);
  if (!window) {
    throw std::invalid_argument("--window: '" + herd_window_ +
                                "' is not a window (0, busy-10us, blocking-100us, ...)");
  }
  config.window = *window;
  const auto results = run_per_strategy(config, strategies(herd_strategies_), workload::run_herd);
  std::cout << "The thundering herd: " << config.threads
            << " threads released together each commit one write to one record.\n\n"
            << herd_table(results) << "\nFinding: " << herd_finding(results) << '\n';
  return 0;
}

}  // namespace vkv::lab
