// Internal to vkv-lab: the `stall` and `herd` subcommands (the stalled holder and the
// thundering herd of scenarios_lab.hpp) on the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vkv::lab {

class ScenarioCommands {
 public:
  // Registers `stall` and `herd` and their options on `app`.
  explicit ScenarioCommands(CLI::App& app);
  bool selected() const { return stall_->parsed() || herd_->parsed(); }
  // Runs the one selected; returns the exit status (0 ok, 2 bad arguments: one line
  // on stderr, nothing run).
  int run() const;

 private:
  int run_stall() const;
  int run_herd() const;

  CLI::App* stall_;
  CLI::App* herd_;
  std::string stall_threads_ = "4", stall_keys_ = "1", stall_share_ = "0.1", stall_ms_ = "20",
              stall_strategies_ = "full-jitter,adaptive";
  std::string herd_threads_ = "64", herd_rounds_ = "10", herd_window_ = "busy-10us",
              herd_strategies_ = "all";
};

}  // namespace vkv::lab
