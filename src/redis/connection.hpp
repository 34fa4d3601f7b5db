// Internal (src/redis): one blocking hiredis connection to one node, and the
// SIGPIPE guard around its writes.
//
// Thread safety: a Connection is used by one thread at a time (the pool hands it out).
#pragma once

#include <signal.h>

#include <algorithm>
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

using Clock = std::chrono::steady_clock;

// The end of one public call (Options::call_timeout): nothing waits past it.
struct Deadline {
  Clock::time_point at = Clock::time_point::max();
  static Deadline after(std::chrono::milliseconds span) { return Deadline{Clock::now() + span}; }
  bool passed() const { return Clock::now() >= at; }
  // What is left, at least 1 ms (a zero socket timeout means "forever"), at most `cap`.
  std::chrono::milliseconds left(std::chrono::milliseconds cap) const {
    const auto rest = std::chrono::ceil<std::chrono::milliseconds>(at - Clock::now());
    return std::clamp(rest, std::chrono::milliseconds(1), cap);
  }
};

// How every connection to every node is opened.
struct NodeSettings {
  std::chrono::milliseconds connect{1000};
  std::chrono::milliseconds command{1000};    // per socket read or write
  std::chrono::milliseconds max_idle{60000};  // Options::max_idle (see NodePool)
  std::string user;                           // AUTH [user] password when password is set
  std::string password;
};

class Connection {
 public:
  // Connects (connect timeout, cut to the deadline), turns on TCP keepalive, sends AUTH
  // when a password is set. nullptr and `error` set when the node cannot be reached or
  // refuses the credentials.
  static std::unique_ptr<Connection> open(const Address& address, const NodeSettings& settings,
                                          Deadline deadline, std::string& error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends every command in one write (a pipeline) and reads one reply per command, in
  // order. On anything but Io::ok the connection is broken() and must be discarded:
  // replies may be missing or late, so it is never reused.
  // Every socket read and write waits at most the command timeout, cut to the deadline.
  Io exchange(std::span<const Args> commands, std::vector<ReplyPtr>& replies, std::string& error,
              Deadline deadline = {});

  // False once an exchange failed, or when an idle connection was closed by the
  // server (a zero-timeout poll finds it readable: EOF or unsolicited bytes).
  bool usable() const noexcept;
  bool broken() const noexcept { return broken_; }
  const Address& address() const noexcept { return address_; }
  // When it last finished an exchange (or was opened).
  Clock::time_point last_used() const noexcept { return last_used_; }

 private:
  Connection(redisContext* context, Address address, std::chrono::milliseconds timeout)
      : context_(context), address_(address), command_(timeout), timeout_(timeout) {}
  redisContext* context_;
  Address address_;
  bool broken_ = false;
  const std::chrono::milliseconds command_;  // NodeSettings::command
  std::chrono::milliseconds timeout_;        // what the socket is set to now
  Clock::time_point last_used_ = Clock::now();
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
