// A TCP proxy between a store and a redis-server that can lose one exchange on purpose,
// for vkv::redis's fault-resolution smoke tests:
//   drop_next_reply():   the next bytes the server sends are thrown away, and so is
//                        everything after them on that connection (the command ran;
//                        its reply never comes);
//   hold_next_request(): the next bytes a client sends are kept back, with everything
//                        after them on that connection (the command has not run);
//                        release_held() delivers them to the server later, even after
//                        the client gave up on the connection;
//   black_hole(true):    from then on nothing is forwarded either way, on every
//                        connection, old or new (connects still succeed): a network
//                        that silently drops packets;
//   error_reply_for(marker, error, n): the next n commands whose bytes hold `marker`
//                        run on the server as sent, but their replies are replaced by
//                        the error reply `-<error>` (a BUSY the server did not give);
//                        the proxy then parses both directions as RESP2 to pair each
//                        reply with its command (pipelines included).
// accepted() counts the connections the proxy accepted (each one a connect by a client).
// One thread runs a poll loop over every connection; the controls are thread-safe.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vkv_test {

// A TCP socket listening on 127.0.0.1 at a port the kernel picks; returns its fd and
// stores the port in *port.
inline int listen_on_loopback(int backlog, int* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  listen(fd, backlog);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

class FaultProxy {
 public:
  explicit FaultProxy(int server_port) : server_port_(server_port) {
    listener_ = listen_on_loopback(64, &port_);
    thread_ = std::thread([this] { run(); });
  }
  ~FaultProxy() {
    stop_.store(true, std::memory_order_relaxed);  // relaxed: polled with a 5 ms timeout
    thread_.join();
    for (Pair& pair : pairs_) {
      if (pair.client >= 0) close(pair.client);
      if (pair.server >= 0) close(pair.server);
    }
    close(listener_);
  }

  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  int port() const noexcept { return port_; }
  std::size_t accepted() {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  void error_reply_for(std::string marker, std::string error, int times) {
    std::lock_guard lock(mutex_);
    marker_ = std::move(marker);
    error_ = std::move(error);
    rewrites_left_ = times;
  }
  std::size_t errors_injected() {
    std::lock_guard lock(mutex_);
    return errors_injected_;
  }

  void drop_next_reply() {
    std::lock_guard lock(mutex_);
    drop_armed_ = true;
  }
  void hold_next_request() {
    std::lock_guard lock(mutex_);
    hold_armed_ = true;
  }
  void black_hole(bool on) {
    std::lock_guard lock(mutex_);
    black_hole_ = on;
  }
  // Delivers the held bytes; replies_after_release() then counts reply bytes.
  void release_held() {
    std::lock_guard lock(mutex_);
    release_ = true;
  }
  bool holding() {
    std::lock_guard lock(mutex_);
    for (const Pair& pair : pairs_) {
      if (pair.holding && !pair.held.empty()) return true;
    }
    return false;
  }
  std::size_t replies_after_release() {
    std::lock_guard lock(mutex_);
    return replies_after_release_;
  }

 private:
  struct Pair {
    int client = -1;
    int server = -1;
    bool dropping = false;  // server -> client discarded
    bool holding = false;   // client -> server kept back
    bool released = false;
    std::string held;
    // With a marker set (error_reply_for): bytes not yet parsed into whole commands or
    // replies, and for each command forwarded and not yet answered, whether its reply
    // is to be replaced.
    std::string requests;
    std::string replies;
    std::deque<bool> replace;
  };

  // The length of the first whole RESP2 value at text[from...], 0 if it is incomplete.
  static std::size_t resp_length(const std::string& text, std::size_t from) {
    const std::size_t eol = text.find("\r\n", from);
    if (from >= text.size() || eol == std::string::npos) return 0;
    const std::size_t line = eol + 2 - from;
    const char type = text[from];
    if (type != '$' && type != '*') return line;  // + - : (and inline commands)
    const long long n = std::stoll(text.substr(from + 1, eol - from - 1));
    if (n < 0) return line;  // nil
    if (type == '$') {
      const std::size_t whole = line + static_cast<std::size_t>(n) + 2;
      return text.size() - from >= whole ? whole : 0;
    }
    std::size_t at = from + line;
    for (long long i = 0; i < n; ++i) {
      const std::size_t length = resp_length(text, at);
      if (length == 0) return 0;
      at += length;
    }
    return at - from;
  }

  // Pairs the client's commands with the replies to come (marker set only).
  void note_requests(Pair& pair, const char* data, std::size_t size) {
    pair.requests.append(data, size);
    for (std::size_t length; (length = resp_length(pair.requests, 0)) != 0;) {
      const bool hit =
          rewrites_left_ > 0 && pair.requests.substr(0, length).find(marker_) != std::string::npos;
      if (hit) --rewrites_left_;
      pair.replace.push_back(hit);
      pair.requests.erase(0, length);
    }
  }

  // The server's bytes as the client gets them: whole replies, some replaced.
  std::string rewrite_replies(Pair& pair, const char* data, std::size_t size) {
    pair.replies.append(data, size);
    std::string out;
    for (std::size_t length; (length = resp_length(pair.replies, 0)) != 0;) {
      const bool replace = !pair.replace.empty() && pair.replace.front();
      if (!pair.replace.empty()) pair.replace.pop_front();
      if (replace) {
        out += "-" + error_ + "\r\n";
        ++errors_injected_;
      } else {
        out.append(pair.replies, 0, length);
      }
      pair.replies.erase(0, length);
    }
    return out;
  }

  void run() {
    while (!stop_.load(std::memory_order_relaxed)) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      {
        std::lock_guard lock(mutex_);
        for (const Pair& pair : pairs_) {
          fds.push_back({pair.client, static_cast<short>(pair.client >= 0 ? POLLIN : 0), 0});
          fds.push_back({pair.server, static_cast<short>(pair.server >= 0 ? POLLIN : 0), 0});
        }
      }
      poll(fds.data(), fds.size(), 5);
      std::lock_guard lock(mutex_);
      if (fds[0].revents & POLLIN) accept_one();
      for (std::size_t i = 0; i < (fds.size() - 1) / 2 && i < pairs_.size(); ++i) {
        Pair& pair = pairs_[i];
        if (pair.client >= 0 && (fds[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))) {
          from_client(pair);
        }
        if (pair.server >= 0 && (fds[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))) {
          from_server(pair);
        }
      }
      if (release_) {
        release_ = false;
        for (Pair& pair : pairs_) {
          if (pair.holding && !pair.held.empty() && pair.server >= 0) {
            (void)!send(pair.server, pair.held.data(), pair.held.size(), MSG_NOSIGNAL);
            pair.held.clear();
            pair.released = true;
          }
        }
      }
    }
  }

  void accept_one() {
    const int client = accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(server_port_));
    if (connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(client);
      close(server);
      return;
    }
    ++accepted_;
    Pair pair;
    pair.client = client;
    pair.server = server;
    pairs_.push_back(std::move(pair));
  }

  void from_client(Pair& pair) {
    char buffer[65536];
    const ssize_t n = read(pair.client, buffer, sizeof buffer);
    if (n <= 0) {  // the client left; a holding pair keeps its server side for release
      close(pair.client);
      pair.client = -1;
      if (!pair.holding) {
        close(pair.server);
        pair.server = -1;
      }
      return;
    }
    if (hold_armed_ && !pair.holding) {
      hold_armed_ = false;
      pair.holding = true;
    }
    if (black_hole_) return;  // dropped
    if (!marker_.empty()) note_requests(pair, buffer, static_cast<std::size_t>(n));
    if (pair.holding) {
      pair.held.append(buffer, static_cast<std::size_t>(n));
    } else {
      (void)!send(pair.server, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    }
  }

  void from_server(Pair& pair) {
    char buffer[65536];
    const ssize_t n = read(pair.server, buffer, sizeof buffer);
    if (n <= 0) {
      close(pair.server);
      pair.server = -1;
      if (pair.client >= 0) {
        close(pair.client);
        pair.client = -1;
      }
      return;
    }
    if (black_hole_) return;  // dropped
    if (pair.released) replies_after_release_ += static_cast<std::size_t>(n);
    if (drop_armed_ && !pair.dropping) {
      drop_armed_ = false;
      pair.dropping = true;
    }
    if (!pair.dropping && pair.client >= 0 && !marker_.empty()) {
      const std::string out = rewrite_replies(pair, buffer, static_cast<std::size_t>(n));
      (void)!send(pair.client, out.data(), out.size(), MSG_NOSIGNAL);
    } else if (!pair.dropping && pair.client >= 0) {
      (void)!send(pair.client, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    }
  }

  const int server_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;  // guards everything below (the loop holds it while it works)
  std::vector<Pair> pairs_;
  bool drop_armed_ = false;
  bool hold_armed_ = false;
  bool release_ = false;
  bool black_hole_ = false;
  std::size_t replies_after_release_ = 0;
  std::size_t accepted_ = 0;
  std::string marker_;  // error_reply_for: empty = forward bytes as they come
  std::string error_;
  int rewrites_left_ = 0;
  std::size_t errors_injected_ = 0;
};

}  // namespace vkv_test
