// Internal to vkv-lab: `vkv-lab cache`, a cache under a Zipfian load with a capacity
// bound. Threads read keys drawn Zipfian; a miss fills the key (put), as a read-through
// cache would; the store evicts past the bound. Every tick the lab samples the hit
// rate, evictions, expirations, records held and the process's resident memory, prints
// a table, and writes an HTML report with line charts (inline SVG) and a JSON file.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vkv::lab {

class CacheCommand {
 public:
  // Registers the `cache` subcommand and its options on `app`.
  explicit CacheCommand(CLI::App& app);
  bool selected() const { return subcommand_->parsed(); }
  // Runs it; returns the process's exit status (0 ok, 1 a file could not be written,
  // 2 bad arguments: one line on stderr, nothing run).
  int run(const std::string& command) const;

 private:
  CLI::App* subcommand_;
  std::string keys_ = "100000";
  std::string capacity_ = "10";
  std::string threads_ = "2";
  std::string theta_ = "0.99";
  std::string duration_ = "2";
  std::string ticks_ = "20";
  std::string ttl_ms_ = "0";
  std::string out_ = ".";
};

}  // namespace vkv::lab
