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

namespace {
constexpr std::chrono::seconds kFailMemory{30};
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}
}  // namespace

NodePool::NodePool(Address address, const NodeSettings& settings, std::size_t max_connections)
    : address_(std::move(address)),
      settings_(settings),
      max_(max_connections == 0 ? 1 : max_connections) {
  idle_.reserve(max_);  // release() then never allocates: idle_.size() <= open_ <= max_
}

bool NodePool::failing() const noexcept {
  // relaxed: a hint for ordering refresh candidates; nothing else is read through it.
  const std::int64_t at = failed_at_.load(std::memory_order_relaxed);
  return at != 0 && now_ns() - at < std::chrono::nanoseconds(kFailMemory).count();
}

void NodePool::note_failure() noexcept {
  const std::int64_t now = now_ns();
  failed_at_.store(now, std::memory_order_relaxed);  // relaxed: a hint (failing())
  // relaxed: a time stamp compared with a sweep's start; it publishes nothing. Only the
  // first failure of a run sets it (a CAS from 0).
  std::int64_t none = 0;
  failing_since_.compare_exchange_strong(none, now, std::memory_order_relaxed);
}

void NodePool::mark_failed() noexcept { note_failure(); }

Clock::time_point NodePool::failing_since() const noexcept {
  // relaxed: see note_failure().
  const std::int64_t since = failing_since_.load(std::memory_order_relaxed);
  return since == 0 ? Clock::time_point::min() : Clock::time_point(std::chrono::nanoseconds(since));
}

void NodePool::retire() noexcept {
  std::lock_guard lock(mutex_);
  retired_ = true;
  while (!idle_.empty()) {
    idle_.pop_back();  // closes it (invariants 1, 4); pop_back never allocates
    --open_;
  }
  freed_.notify_all();
}

Lease NodePool::acquire(std::string& error, Deadline deadline, bool fresh) {
  {
    std::unique_lock lock(mutex_);
    retired_ = false;  // used again: it serves slots (or a redirect) once more
    for (;;) {
      while (!idle_.empty() && !fresh) {
        std::unique_ptr<Connection> connection = std::move(idle_.back());
        idle_.pop_back();
        if (connection->usable() && Clock::now() - connection->last_used() <= settings_.max_idle) {
          return Lease(this, std::move(connection), true);
        }
        --open_;  // closed by the server, or idle too long: drop it (invariants 1, 4)
        connection.reset();
      }
      if (open_ < max_) break;
      if (fresh && !idle_.empty()) {
        --open_;  // make room for a fresh one: close the oldest idle connection
        idle_.erase(idle_.begin());
        break;
      }
      if (freed_.wait_until(lock, deadline.at) == std::cv_status::timeout && open_ >= max_ &&
          (idle_.empty() || fresh)) {
        error = "timed out waiting for a connection to " + address_.text() + " (all " +
                std::to_string(max_) + " in use)";
        return Lease();
      }
    }
    ++open_;  // reserve the slot before connecting outside the lock (invariant 2)
  }
  std::unique_ptr<Connection> connection;
  try {
    connection = Connection::open(address_, settings_, deadline, error);
  } catch (...) {  // std::bad_alloc: give the reserved place back (invariant 1)
    std::lock_guard lock(mutex_);
    --open_;
    freed_.notify_one();
    throw;
  }
  if (connection) {
    failed_at_.store(0, std::memory_order_relaxed);      // relaxed: a hint (failing())
    failing_since_.store(0, std::memory_order_relaxed);  // relaxed: see note_failure()
  } else {
    note_failure();
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
  if (connection->broken() || retired_) {
    --open_;  // invariants 3, 4
    connection.reset();
  } else {
    idle_.push_back(std::move(connection));  // reserved: cannot throw past max_ entries
  }
  freed_.notify_one();
}

}  // namespace vkv::redis::detail
