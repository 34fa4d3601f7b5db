// A real redis-server on 127.0.0.1, started by the test itself (tests and benchmarks only).
//
// Started with `--port P --bind 127.0.0.1 --save '' --dir <dir> --appendonly yes
// --appendfsync always`, so a kill -9 and a restart on the same port and directory keep
// every acknowledged write (ServerOptions::durable = false drops the AOF, for
// benchmarks). The port is picked free (bind to port 0) and picked again when the server
// loses the race for it. Readiness is a PING answered PONG, polled under a deadline.
// Stopped by SIGKILL to its pid in the destructor; the child also has
// PR_SET_PDEATHSIG(SIGKILL), so it dies with the test process.
//
// Thread safety: not thread-safe; one thread starts, kills and restarts a server (other
// threads may talk to it over the network meanwhile).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/redis/process.hpp"

namespace vkv_test::redis {

struct ServerOptions {
  std::vector<std::string> extra_args;  // more "--name value" arguments
  int port = 0;                         // 0 = pick a free one
  int cluster_bus_port = 0;             // with cluster_enabled: 0 = pick a free one
  bool cluster_enabled = false;
  // AOF with fsync always (the default: a kill -9 loses no acknowledged write). Off for
  // benchmarks, which measure the protocol, not the disk: no AOF, no snapshots.
  bool durable = true;
  std::chrono::milliseconds ready_timeout{15000};
};

class RedisServer {
 public:
  // Starts a server whose files live in `dir` (created if missing). Throws
  // std::runtime_error, with the server's log, if it does not answer PING in time.
  explicit RedisServer(std::filesystem::path dir, ServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const noexcept { return port_; }
  int bus_port() const noexcept { return bus_port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const noexcept { return process_.pid(); }
  bool running() { return process_.running(); }
  const std::filesystem::path& dir() const noexcept { return dir_; }

  // kill -9 by pid; returns once the process is reaped. The files stay.
  void kill9();
  // Starts it again on the same port and directory (the AOF is replayed) and waits for
  // PONG. Throws if the port was taken meanwhile.
  void restart();
  // The last lines of the server's log.
  std::string log_tail() const;

 private:
  bool launch_and_wait();

  std::filesystem::path dir_;
  ServerOptions options_;
  int port_ = 0;
  int bus_port_ = 0;
  ChildProcess process_;
};

// Polls `condition` until it returns true or `timeout` passes; true iff it held.
// Exceptions from `condition` count as false.
template <class F>
bool poll_until(std::chrono::milliseconds timeout, F&& condition,
                std::chrono::milliseconds every = std::chrono::milliseconds(10));

}  // namespace vkv_test::redis

#include "support/redis/poll.hpp"
