// A real Redis Cluster on loopback: masters with one replica each, made with
// `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes` (tests and
// benchmarks only).
//
// Each node is a RedisServer (see server.hpp: AOF with fsync always, free ports, PING
// readiness, killed by pid) with `cluster-enabled yes` and its `cluster-config-file` in
// its own directory under one TempDir. The constructor returns once every node says
// cluster_state:ok, every node reports the same slot map, and every replica's link to its
// master is up. Failovers: graceful (`CLUSTER FAILOVER` on the replica) and forced (kill -9
// of the master, then `CLUSTER FAILOVER TAKEOVER` on its replica).
//
// Thread safety: not thread-safe; one thread administers the cluster (others may use it
// over the network meanwhile).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/redis/process.hpp"
#include "support/redis/server.hpp"

namespace vkv_test::redis {

struct ClusterNode {
  std::string id;
  int port = 0;
  bool master = false;
  bool failed = false;    // flagged fail or fail? by the node that was asked
  std::string master_id;  // for a replica
};

class RedisCluster {
 public:
  explicit RedisCluster(int masters = 3,
                        std::chrono::milliseconds ready_timeout = std::chrono::seconds(60));
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // "redis://127.0.0.1:P" of every node, for redis::Options::nodes.
  std::vector<std::string> seed_uris() const;
  std::size_t size() const noexcept { return nodes_.size(); }
  RedisServer& node_at_port(int port);

  // The topology as a live node sees it (CLUSTER NODES).
  std::vector<ClusterNode> topology();
  // The hash slot of a full Redis key (CLUSTER KEYSLOT).
  int key_slot(const std::string& key);
  // The port of the master serving `slot`, and of a replica of the master on `port`.
  int master_port_of_slot(int slot);
  int replica_port_of(int master_port);

  // CLUSTER FAILOVER on the replica of the master on `master_port`: the replica catches up
  // with the master before it takes over, so no acknowledged write is lost. Returns the new
  // master's port once the cluster is stable again.
  int graceful_failover(int master_port);
  // kill -9 of the master on `master_port`, then CLUSTER FAILOVER TAKEOVER on its replica
  // (asynchronous replication: writes the replica had not received are lost). Returns the
  // new master's port once the live nodes are stable; the old master stays down until
  // restart_node().
  int takeover_failover(int master_port);
  // Restarts a killed node (same port and directory); it rejoins as a replica.
  void restart_node(int port);

  // Polls until every running node says cluster_state:ok, all report the same slot map,
  // and every running replica's link is up. Throws std::runtime_error on timeout.
  void wait_stable(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  bool stable_now(std::string& why);
  int any_live_port();

  TempDir dir_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace vkv_test::redis
