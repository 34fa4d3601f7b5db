// A throwaway 3-master Redis Cluster for vkv::redis's own smoke tests: three
// LocalServers in cluster mode (config files in a temporary directory), slots assigned
// with CLUSTER ADDSLOTSRANGE, joined with CLUSTER MEET, awaited with a bounded poll
// until every node reports cluster_state:ok and knows all three masters. Stopped by pid.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "local_server.hpp"

namespace vkv_test {

class LocalCluster {
 public:
  LocalCluster() {
    char pattern[] = "/tmp/vkv-redis-cluster-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return;
    dir_ = pattern;
    for (int i = 0; i < 3; ++i) {
      const std::string dir = dir_ + "/" + std::to_string(i);
      std::filesystem::create_directories(dir);
      nodes_.push_back(std::make_unique<LocalServer>(
          std::vector<std::string>{"--cluster-enabled", "yes", "--cluster-config-file",
                                   "nodes.conf", "--dir", dir, "--cluster-node-timeout", "5000"},
          true));
      if (!nodes_.back()->started()) return;
    }
    const int ranges[3][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
    for (int i = 0; i < 3; ++i) {
      nodes_[i]->command(
          {"CLUSTER", "ADDSLOTSRANGE", std::to_string(ranges[i][0]), std::to_string(ranges[i][1])});
    }
    for (int i = 1; i < 3; ++i) {
      nodes_[0]->command({"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes_[i]->port())});
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      bool ready = true;
      for (auto& node : nodes_) {
        ready =
            ready &&
            node->command({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos &&
            node->command({"CLUSTER", "INFO"}).find("cluster_known_nodes:3") != std::string::npos;
      }
      if (ready) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~LocalCluster() {
    nodes_.clear();  // kills each server by pid
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  bool ready() const noexcept { return ready_; }
  LocalServer& node(int i) { return *nodes_[i]; }
  std::string node_id(int i) { return nodes_[i]->command({"CLUSTER", "MYID"}); }
  // The node (0..2) serving `slot` at start.
  static int initial_owner(int slot) { return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<LocalServer>> nodes_;
  bool ready_ = false;
};

}  // namespace vkv_test
