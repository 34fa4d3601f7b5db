// Internal (core/redis): which node serves a key, and running commands there.
// Single-server mode has one node. Cluster mode keeps a slot map (CLUSTER SLOTS),
// follows MOVED (map updated, command retried) and ASK (ASKING, then the command on the
// target), and retries TRYAGAIN / CLUSTERDOWN / LOADING a bounded number of times.
//
// Thread safety: every member may be called from any number of threads at once.
// Invariants (under map_mutex_):
//   1. pools_ only grows; a NodePool lives as long as the Router, so a pointer taken
//      under the lock stays valid after it.
//   2. owner_[slot] is an index into pools_ or kNoOwner.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "connection.hpp"
#include "pool.hpp"
#include "scripts.hpp"

namespace vkv::redis::detail {

// Options::wait_replicas / wait_timeout: replicas = 0 sends no WAIT.
struct WaitFor {
  int replicas = 0;
  std::chrono::milliseconds timeout{0};
};

// One command about keys of one slot.
struct Call {
  std::uint16_t slot = 0;
  Args args;
  const Script* script = nullptr;  // set: args start EVALSHA <sha>; NOSCRIPT resends EVAL
  // replicas > 0: `WAIT <replicas> <timeout>` follows the command on the same
  // connection, in the same pipeline; CallResult::replicas is its answer.
  WaitFor wait;
};

struct CallResult {
  Io io = Io::ok;
  ReplyPtr reply;  // io == ok (it may be an error reply)
  std::string error;
  bool reused = false;  // the connection had served earlier calls
  // Call::wait set and io == ok: the replicas WAIT counted (0 if WAIT was refused);
  // otherwise -1.
  long long replicas = -1;
};

class Router {
 public:
  Router(std::vector<Address> seeds, bool cluster, Timeouts timeouts, std::size_t per_node);

  CallResult call(const Call& call);
  // Grouped per node, one pipelined round trip each (one WAIT at its end when the calls
  // ask for one); a command redirected or refused as retryable is then run alone
  // through call().
  std::vector<CallResult> call_many(std::span<const Call> calls);
  // One command on one node, no routing (SCAN).
  CallResult call_node(NodePool& node, const Args& args);
  // Every master (the one node in single mode).
  std::vector<NodePool*> masters();
  bool cluster() const noexcept { return cluster_; }

 private:
  static constexpr std::uint16_t kNoOwner = 0xffff;
  NodePool* owner(std::uint16_t slot);
  NodePool* pool_for(const Address& address);  // takes map_mutex_ exclusively
  NodePool* pool_locked(const Address& address);
  void set_owner(std::uint16_t slot, const Address& address);
  bool refresh(std::string& error);
  // What to do about an error reply; see call().
  enum class Next { done, moved, ask, retry_later, noscript, refresh };
  Next classify(const redisReply* reply, const Call& call, Address& target) const;

  const std::vector<Address> seeds_;
  const bool cluster_;
  const Timeouts timeouts_;
  const std::size_t per_node_;
  std::shared_mutex map_mutex_;
  std::vector<std::unique_ptr<NodePool>> pools_;
  std::array<std::uint16_t, 16384> owner_{};
  bool mapped_ = false;
  std::mutex refresh_mutex_;  // one CLUSTER SLOTS at a time
};

}  // namespace vkv::redis::detail
