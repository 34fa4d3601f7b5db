// Internal (src/redis): the connections to one node.
//
// Thread safety: acquire() and the Lease's release may be called from any thread.
// Invariants (under mutex_):
//   1. open_ counts the connections of this pool that exist: idle_ plus those leased.
//   2. open_ <= max_; a caller that finds open_ == max_ and no idle connection waits,
//      never past its call's deadline.
//   3. A connection that failed an exchange is destroyed, never put back in idle_.
//   4. A connection idle longer than NodeSettings::max_idle is closed, not reused (a NAT or
//   firewall
//      may have dropped it silently); so is every idle one once the pool is retired.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connection.hpp"

namespace vkv::redis::detail {

class NodePool;

// A connection on loan; goes back to its pool (or is destroyed if broken) when the
// Lease dies.
class Lease {
 public:
  Lease() = default;
  Lease(NodePool* pool, std::unique_ptr<Connection> connection, bool reused)
      : pool_(pool), connection_(std::move(connection)), reused_(reused) {}
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&& other) noexcept;
  ~Lease();

  explicit operator bool() const noexcept { return connection_ != nullptr; }
  Connection& operator*() const noexcept { return *connection_; }
  Connection* operator->() const noexcept { return connection_.get(); }
  // True if the connection had served earlier calls (it may have gone stale).
  bool reused() const noexcept { return reused_; }

 private:
  void give_back() noexcept;
  NodePool* pool_ = nullptr;
  std::unique_ptr<Connection> connection_;
  bool reused_ = false;
};

class NodePool {
 public:
  NodePool(Address address, const NodeSettings& settings, std::size_t max_connections);
  // An idle connection (none if `fresh`), or a new one while fewer than max are open,
  // else waits for one until the deadline. An empty Lease and `error` set when the node
  // cannot be reached (the pool then counts as failing, see failing()) or the deadline
  // passed.
  Lease acquire(std::string& error, Deadline deadline, bool fresh = false);
  const Address& address() const noexcept { return address_; }

  // True while the last connect to this node failed (within the last kFailMemory):
  // slot-map refreshes ask it last.
  bool failing() const noexcept;
  // An exchange with the node failed (a timeout, a reset): counts as failing too.
  void mark_failed() noexcept;
  // When the node's current run of failures began (the first failed connect or
  // exchange since the last connect that worked); time_point::min() if it is not failing.
  Clock::time_point failing_since() const noexcept;
  // The node left the cluster's slot map: close its idle connections (and those given
  // back from now on) until it is used again.
  void retire() noexcept;

 private:
  friend class Lease;
  void release(std::unique_ptr<Connection> connection) noexcept;

  const Address address_;
  const NodeSettings settings_;
  // steady_clock nanoseconds of the last failed connect, 0 when the last one worked.
  std::atomic<std::int64_t> failed_at_{0};
  // steady_clock nanoseconds of the first failure since the last connect that worked; 0
  // while none.
  std::atomic<std::int64_t> failing_since_{0};
  void note_failure() noexcept;
  bool retired_ = false;  // under mutex_
  const std::size_t max_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace vkv::redis::detail
