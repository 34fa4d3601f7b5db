#include "support/redis/server.hpp"

#include <stdexcept>

#include "support/redis/admin.hpp"

namespace vkv_test::redis {

namespace {
constexpr int kPortAttempts = 8;
}

RedisServer::RedisServer(std::filesystem::path dir, ServerOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {
  std::filesystem::create_directories(dir_);
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    port_ = options_.port != 0 ? options_.port : pick_free_port();
    bus_port_ = 0;
    if (options_.cluster_enabled) {
      do {
        bus_port_ = options_.cluster_bus_port != 0 ? options_.cluster_bus_port : pick_free_port();
      } while (bus_port_ == port_);
    }
    if (launch_and_wait()) return;
    if (options_.port != 0) break;  // a fixed port: no other to try
  }
  throw std::runtime_error("redis-server did not start in " + dir_.string() + "; log:\n" +
                           log_tail());
}

RedisServer::~RedisServer() { process_.kill_now(); }

bool RedisServer::launch_and_wait() {
  std::vector<std::string> argv = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--dir",
                                   dir_.string(),
                                   "--appendonly",
                                   options_.durable ? "yes" : "no",
                                   "--appendfsync",
                                   "always",
                                   "--daemonize",
                                   "no",
                                   "--protected-mode",
                                   "no",
                                   "--logfile",
                                   ""};
  if (options_.cluster_enabled) {
    for (std::string a : {"--cluster-enabled", "yes", "--cluster-config-file"}) argv.push_back(a);
    argv.push_back((dir_ / "nodes.conf").string());
    argv.push_back("--cluster-port");
    argv.push_back(std::to_string(bus_port_));
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = ChildProcess(argv, dir_ / "server.log");
  // A server that exited (it lost the port, or could not start at all) ends the wait at
  // once: the caller retries with another port. (poll_until counts a throw as false.)
  bool exited = false;
  const bool answered = poll_until(options_.ready_timeout, [&] {
    exited = !process_.running();
    return exited || Admin::ping("127.0.0.1", port_);
  });
  const bool up = answered && !exited;
  if (!up) process_.kill_now();
  return up;
}

void RedisServer::kill9() { process_.kill_now(); }

void RedisServer::restart() {
  process_.kill_now();
  if (!launch_and_wait()) {
    throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_) +
                             "; log:\n" + log_tail());
  }
}

std::string RedisServer::log_tail() const { return tail_of(dir_ / "server.log"); }

}  // namespace vkv_test::redis
