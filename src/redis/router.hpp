// Internal (src/redis): which node serves a key, and running commands there.
// Single-server mode has one node. Cluster mode keeps a slot map (CLUSTER SLOTS),
// follows MOVED (the slot updated at once, the whole map reloaded by the next call) and
// ASK (ASKING, then the command on the target), and retries TRYAGAIN / CLUSTERDOWN /
// LOADING / MASTERDOWN with backoff until the call's deadline.
//
// Slot-map refreshes: one in flight at a time, shared by every caller that wants one
// (they wait for its result, never past their deadlines); none starts within `cooldown`
// of the last one (callers get its result, unless that sweep started before the node
// that failed them was found failing: they wait out the cooldown, within their
// deadlines, and refresh); one is due every `period` (run by the next call). Nodes
// whose last connect failed are asked last; pools of nodes that left the map are
// retired (their idle connections closed).
//
// Thread safety: every member may be called from any number of threads at once.
// Invariants:
//   1. (map_mutex_) pools_ only grows; a NodePool lives as long as the Router, so a
//      pointer taken under the lock stays valid after it.
//   2. (map_mutex_) owner_[slot] is an index into pools_ or kNoOwner.
//   3. (refresh_mutex_) refreshing_ is true while exactly one thread sweeps; sweeps_
//      counts the sweeps that started.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
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
  // With a script: args[0..1] are filled when sent (EVALSHA <sha>, or EVAL <body> with
  // SCRIPT LOAD before it until the script's digest is known; NOSCRIPT resends EVAL).
  Args args;
  const Script* script = nullptr;
  // replicas > 0: `WAIT <replicas> <timeout>` follows the command on the same
  // connection, in the same pipeline; CallResult::replicas is its answer.
  WaitFor wait;
  // A read: sent again once, on a fresh connection, when its reply is lost.
  bool idempotent = false;
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

struct RefreshPolicy {
  std::chrono::milliseconds cooldown{100};
  std::chrono::milliseconds period{10000};
};

class Router {
 public:
  Router(std::vector<Address> seeds, bool cluster, const NodeSettings& settings,
         std::size_t per_node, RefreshPolicy policy = {});

  CallResult call(const Call& call, Deadline deadline);
  // Grouped per node, one pipelined round trip each (one WAIT at its end when the calls
  // ask for one); a command redirected or refused as retryable is then run alone
  // through call().
  std::vector<CallResult> call_many(std::span<const Call> calls, Deadline deadline);
  // One command on one node, no routing (SCAN, CLUSTER SLOTS).
  CallResult call_node(NodePool& node, const Args& args, Deadline deadline);
  // Every master (the one node in single mode).
  std::vector<NodePool*> masters(Deadline deadline);
  bool cluster() const noexcept { return cluster_; }
  // Slot-map sweeps started so far (a test hook and a statistic).
  std::uint64_t refresh_sweeps() const noexcept;

 private:
  static constexpr std::uint16_t kNoOwner = 0xffff;
  NodePool* owner(std::uint16_t slot, Deadline deadline);
  NodePool* pool_for(const Address& address);  // takes map_mutex_ exclusively
  NodePool* pool_locked(const Address& address);
  void set_owner(std::uint16_t slot, const Address& address);
  // Shared, rate-limited refresh (see the top of this file). join = false: if one is
  // under way, return at once (a due or MOVED-driven reload need not wait for it).
  // The last sweep's answer is not taken from the cooldown if that sweep started before
  // `failed_since` (when the caller's node was found failing): it could not know.
  bool refresh(Deadline deadline, std::string& error, bool join = true,
               Clock::time_point failed_since = Clock::time_point::min());
  bool sweep(Deadline deadline, std::string& error);
  void refresh_soon() noexcept;  // after a MOVED: the next call reloads (cooldown kept)
  // What to do about an error reply; see call().
  enum class Next { done, moved, ask, retry_later, noscript, refresh };
  Next classify(const redisReply* reply, const Call& call, const Address& from,
                Address& target) const;

  const std::vector<Address> seeds_;
  const bool cluster_;
  const NodeSettings settings_;
  const std::size_t per_node_;
  const RefreshPolicy policy_;
  std::shared_mutex map_mutex_;
  std::vector<std::unique_ptr<NodePool>> pools_;
  std::array<std::uint16_t, 16384> owner_{};
  bool mapped_ = false;

  std::mutex refresh_mutex_;
  std::condition_variable refreshed_;
  bool refreshing_ = false;       // invariant 3
  std::uint64_t generation_ = 0;  // sweeps finished
  bool last_ok_ = false;          // the last sweep's result
  std::string last_error_;
  Clock::time_point last_start_{};  // when it started
  Clock::time_point last_end_{};    // when it finished
  std::atomic<std::uint64_t> sweeps_{0};
  // steady_clock ns after which the next call refreshes the map (periodic, or MOVED).
  std::atomic<std::int64_t> due_ns_{0};
};

}  // namespace vkv::redis::detail
