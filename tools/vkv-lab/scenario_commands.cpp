#include "scenario_commands.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "scenarios_lab.hpp"

namespace vkv::lab {
namespace {

using workload::Strategy;

long long whole(const std::string& flag, const std::string& text, long long low, long long high) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    throw std::invalid_argument(flag + ": '" + text + "' is not a whole number");
  }
  if (value < low || value > high) {
    throw std::invalid_argument(flag + ": must be between " + std::to_string(low) + " and " +
                                std::to_string(high) + ", got " + text);
  }
  return value;
}

double share(const std::string& flag, const std::string& text) {
  std::size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !(value >= 0 && value <= 1)) {
    throw std::invalid_argument(flag + ": must be a number in [0, 1], got '" + text + "'");
  }
  return value;
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
  stall_->add_option("--threads", stall_threads_, "Threads beside the stalled writer (1-256)")
      ->type_name("N")
      ->default_str(stall_threads_);
  stall_->add_option("--keys", stall_keys_, "Keys (the writer stalls on key 0)")
      ->type_name("N")
      ->default_str(stall_keys_);
  stall_->add_option("--write-share", stall_share_, "Share of the others' operations that write")
      ->type_name("P")
      ->default_str(stall_share_);
  stall_->add_option("--stall-ms", stall_ms_, "Milliseconds the writer stalls (1-1000)")
      ->type_name("MS")
      ->default_str(stall_ms_);
  stall_
      ->add_option("--strategies", stall_strategies_,
                   "Retrying strategies to set against pessimistic (always run)")
      ->type_name("A,B,...")
      ->default_str(stall_strategies_);
  herd_->add_option("--threads", herd_threads_, "Threads (1-64)")
      ->type_name("N")
      ->default_str(herd_threads_);
  herd_->add_option("--rounds", herd_rounds_, "Rounds, a fresh record each")
      ->type_name("N")
      ->default_str(herd_rounds_);
  herd_->add_option("--window", herd_window_, "Each write's window (0, busy-10us, ...)")
      ->type_name("W")
      ->default_str(herd_window_);
  herd_->add_option("--strategies", herd_strategies_, "Comma-separated, or all")
      ->type_name("A,B,...")
      ->default_str(herd_strategies_);
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
  config.threads = static_cast<int>(whole("--threads", stall_threads_, 1, 256));
  config.keys = static_cast<std::size_t>(whole("--keys", stall_keys_, 1, 1'000'000));
  config.write_share = share("--write-share", stall_share_);
  config.stall = std::chrono::milliseconds(whole("--stall-ms", stall_ms_, 1, 1000));
  config.duration = 3 * config.stall + std::chrono::milliseconds(60);
  std::vector<Strategy> list{Strategy::pessimistic};
  for (Strategy s : strategies(stall_strategies_)) {
    if (s != Strategy::pessimistic) list.push_back(s);
  }
  const auto results = run_stalls(config, list);
  std::cout << "A stalled holder: one writer stalls " << config.stall.count()
            << " ms inside its read-modify-write of key 0.\n\n"
            << stall_table(results) << "\nFinding: " << stall_finding(results) << '\n';
  return 0;
}

int ScenarioCommands::run_herd() const {
  workload::HerdConfig config;
  config.threads = static_cast<int>(whole("--threads", herd_threads_, 1, 64));
  config.rounds = static_cast<int>(whole("--rounds", herd_rounds_, 1, 1000));
  const auto window = workload::parse_window(herd_window_);
  if (!window) {
    throw std::invalid_argument("--window: '" + herd_window_ +
                                "' is not a window (0, busy-10us, blocking-100us, ...)");
  }
  config.window = *window;
  const auto results = run_herds(config, strategies(herd_strategies_));
  std::cout << "The thundering herd: " << config.threads
            << " threads released together each commit one write to one record.\n\n"
            << herd_table(results) << "\nFinding: " << herd_finding(results) << '\n';
  return 0;
}

}  // namespace vkv::lab
