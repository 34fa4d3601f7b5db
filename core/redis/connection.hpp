// Internal (core/redis): one blocking hiredis connection to one node, and the
// SIGPIPE guard around its writes.
//
// Thread safety: a Connection is used by one thread at a time (the pool hands it out).
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vkv/redis/detail/keys.hpp"

struct redisContext;
struct redisReply;

namespace vkv::redis::detail {

using Args = std::vector<std::string>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// What became of an exchange.
enum class Io {
  ok,            // every reply read
  not_sent,      // nothing reached the socket: the commands cannot have run
  sent_no_reply  // some bytes were written and a reply is missing: outcome unknown
};

struct Timeouts {
  std::chrono::milliseconds connect{1000};
  std::chrono::milliseconds command{1000};
};

class Connection {
 public:
  // Connects (connect timeout), then sets the command timeout. nullptr and `error` set
  // when the node cannot be reached.
  static std::unique_ptr<Connection> open(const Address& address, const Timeouts& timeouts,
                                          std::string& error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends every command in one write (a pipeline) and reads one reply per command, in
  // order. On anything but Io::ok the connection is broken() and must be discarded:
  // replies may be missing or late, so it is never reused.
  Io exchange(std::span<const Args> commands, std::vector<ReplyPtr>& replies, std::string& error);

  // False once an exchange failed, or when an idle connection was closed by the
  // server (a zero-timeout poll finds it readable: EOF or unsolicited bytes).
  bool usable() const noexcept;
  bool broken() const noexcept { return broken_; }
  const Address& address() const noexcept { return address_; }

 private:
  Connection(redisContext* context, Address address) : context_(context), address_(address) {}
  redisContext* context_;
  Address address_;
  bool broken_ = false;
};

// Blocks SIGPIPE in the calling thread for its lifetime; on destruction consumes a
// SIGPIPE that became pending meanwhile (and was not pending before), then restores the
// thread's mask. The process's dispositions are never touched.
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept;
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;
};

}  // namespace vkv::redis::detail
