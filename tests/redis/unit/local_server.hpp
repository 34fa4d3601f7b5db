// A throwaway redis-server for vkv::redis's own smoke tests (the full server harness is
// tests/redis/support/). Started by fork/exec on a free 127.0.0.1 port, awaited with a
// bounded PING poll, stopped by its pid (never by name), also when a test fails.
#pragma once

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace vkv_test {

// A port nothing listens on right now (bind to 0, read it back, release it).
inline int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

inline bool bindable(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return ok;
}

inline bool answers_ping(int port) {
  timeval tv{0, 200000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr) return false;
  bool ok = false;
  if (c->err == 0) {
    auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
    if (reply != nullptr) freeReplyObject(reply);
  }
  redisFree(c);
  return ok;
}

class LocalServer {
 public:
  // Starts redis-server on a free port (three tries: another process may take the
  // port between free_port() and the bind); started() is false if it never answered.
  // `extra`: more redis-server arguments (e.g. cluster mode); `cluster_bus`: the port
  // + 10000 must be free too.
  explicit LocalServer(std::vector<std::string> extra = {}, bool cluster_bus = false)
      : extra_(std::move(extra)) {
    for (int attempt = 0; attempt < 5 && !started_; ++attempt) {
      port_ = free_port();
      if (cluster_bus && (port_ > 55535 || !bindable(port_ + 10000))) continue;
      start();
    }
  }
  ~LocalServer() { stop(); }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  bool start() {
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",  "--save", "",
        "--appendonly", "no",     "--daemonize",         "no",     "--loglevel", "warning"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      execvp("redis-server", argv.data());
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (answers_ping(port_)) return started_ = true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {  // it died (no binary, port taken)
        pid_ = -1;
        return started_ = false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return started_ = false;
  }

  // Kills the server (SIGKILL: no goodbye to its clients) and reaps it.
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    started_ = false;
  }

  // SIGSTOP / SIGCONT: a server that is there but does not answer.
  void pause() const { kill(pid_, SIGSTOP); }
  void resume() const { kill(pid_, SIGCONT); }

  bool started() const noexcept { return started_; }
  int port() const noexcept { return port_; }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // One command on a fresh connection, for checks from outside the store: the reply
  // as text ("<error>" when there is none, "<nil>", integers in decimal).
  std::string command(const std::vector<std::string>& args) const {
    timeval tv{2, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    std::string out = "<error>";
    if (c != nullptr && c->err == 0) {
      std::vector<const char*> argv;
      std::vector<size_t> lengths;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lengths.push_back(a.size());
      }
      auto* reply = static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()));
      if (reply != nullptr) {
        if (reply->type == REDIS_REPLY_INTEGER) {
          out = std::to_string(reply->integer);
        } else if (reply->type == REDIS_REPLY_ARRAY) {
          // An array: its first element, bracketed ("[fenced]"); nested: "[[...]".
          out = "[";
          if (reply->elements > 0 && reply->element[0]->str != nullptr) {
            out += std::string(reply->element[0]->str, reply->element[0]->len);
          } else if (reply->elements > 0 && reply->element[0]->type == REDIS_REPLY_ARRAY) {
            out += "[...";
          }
          out += "]";
        } else if (reply->type == REDIS_REPLY_NIL) {
          out = "<nil>";
        } else if (reply->str != nullptr) {
          out = std::string(reply->str, reply->len);
        }
        freeReplyObject(reply);
      }
    }
    if (c != nullptr) redisFree(c);
    return out;
  }

 private:
  std::vector<std::string> extra_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool started_ = false;
};

}  // namespace vkv_test
