// The connections to one node: opened on demand, at most max at once.
#include "pool.hpp"

#include <utility>

namespace vkv::redis::detail {

Lease& Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    give_back();
    pool_ = std::exchange(other.pool_, nullptr);
    connection_ = std::move(other.connection_);
    reused_ = other.reused_;
  }
  return *this;
}

Lease::~Lease() { give_back(); }

void Lease::give_back() noexcept {
  if (pool_ != nullptr && connection_ != nullptr) pool_->release(std::move(connection_));
  connection_.reset();
}

NodePool::NodePool(Address address, Timeouts timeouts, std::size_t max_connections)
    : address_(std::move(address)),
      timeouts_(timeouts),
      max_(max_connections == 0 ? 1 : max_connections) {
  idle_.reserve(max_);  // release() then never allocates: idle_.size() <= open_ <= max_
}

Lease NodePool::acquire(std::string& error) {
  {
    std::unique_lock lock(mutex_);
    for (;;) {
      while (!idle_.empty()) {
        std::unique_ptr<Connection> connection = std::move(idle_.back());
        idle_.pop_back();
        if (connection->usable()) return Lease(this, std::move(connection), true);
        --open_;  // closed by the server while idle: drop it (invariant 1)
        connection.reset();
      }
      if (open_ < max_) break;
      freed_.wait(lock);
    }
    ++open_;  // reserve the slot before connecting outside the lock (invariant 2)
  }
  std::unique_ptr<Connection> connection;
  try {
    connection = Connection::open(address_, timeouts_, error);
  } catch (...) {  // std::bad_alloc: give the reserved place back (invariant 1)
    std::lock_guard lock(mutex_);
    --open_;
    freed_.notify_one();
    throw;
  }
  if (!connection) {
    std::lock_guard lock(mutex_);
    --open_;
    freed_.notify_one();
    return Lease();
  }
  return Lease(this, std::move(connection), false);
}

void NodePool::release(std::unique_ptr<Connection> connection) noexcept {
  std::lock_guard lock(mutex_);
  if (connection->broken()) {
    --open_;  // invariant 3
    connection.reset();
  } else {
    idle_.push_back(std::move(connection));  // reserved: cannot throw past max_ entries
  }
  freed_.notify_one();
}

}  // namespace vkv::redis::detail
