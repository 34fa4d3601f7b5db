// Internal (core/redis): the connections to one node.
//
// Thread safety: acquire() and the Lease's release may be called from any thread.
// Invariants (under mutex_):
//   1. open_ counts the connections of this pool that exist: idle_ plus those leased.
//   2. open_ <= max_; a caller that finds open_ == max_ and no idle connection waits.
//   3. A connection that failed an exchange is destroyed, never put back in idle_.
#pragma once

#include <condition_variable>
#include <cstddef>
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
  NodePool(Address address, Timeouts timeouts, std::size_t max_connections);
  // An idle connection, or a new one while fewer than max are open, else waits for
  // one. An empty Lease and `error` set when the node cannot be reached.
  Lease acquire(std::string& error);
  const Address& address() const noexcept { return address_; }

 private:
  friend class Lease;
  void release(std::unique_ptr<Connection> connection) noexcept;

  const Address address_;
  const Timeouts timeouts_;
  const std::size_t max_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace vkv::redis::detail
