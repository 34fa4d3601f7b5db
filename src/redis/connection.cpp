// One blocking hiredis connection; pipelined exchanges; SIGPIPE without touching the
// process's signal dispositions.
#include "connection.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstring>

namespace vkv::redis::detail {

void ReplyDeleter::operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }

// ---- SigpipeGuard ----

SigpipeGuard::SigpipeGuard() noexcept {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask_);
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      // Ours (a write to a closed socket raises it in the writing thread): take it
      // while it is still blocked, so restoring the mask cannot deliver it.
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const timespec zero{0, 0};
      sigtimedwait(&pipe_only, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

// ---- Connection ----

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() <= 0) ms = std::chrono::milliseconds(1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::unique_ptr<Connection> Connection::open(const Address& address, const NodeSettings& settings,
                                             Deadline deadline, std::string& error) {
  if (deadline.passed()) {
    error = "call deadline passed before connecting to " + address.text();
    return nullptr;
  }
  const std::chrono::milliseconds connect = deadline.left(settings.connect);
  redisContext* context =
      redisConnectWithTimeout(address.host.c_str(), address.port, to_timeval(connect));
  if (context == nullptr) {
    error = "cannot allocate a connection to " + address.text();
    return nullptr;
  }
  const std::chrono::milliseconds command = deadline.left(settings.command);
  if (context->err != 0 || redisSetTimeout(context, to_timeval(command)) != REDIS_OK) {
    error = "cannot connect to " + address.text() + ": " + context->errstr;
    redisFree(context);
    return nullptr;
  }
  // A peer that vanished without a FIN (power loss, a dropped NAT entry) is found by the
  // kernel's probes instead of by the next write's timeout.
  redisEnableKeepAlive(context);
  std::unique_ptr<Connection> connection(new Connection(context, address, settings.command));
  connection->timeout_ = command;
  if (!settings.password.empty()) {
    Args auth{"AUTH"};
    if (!settings.user.empty()) auth.push_back(settings.user);
    auth.push_back(settings.password);
    std::vector<ReplyPtr> replies;
    if (connection->exchange(std::span<const Args>(&auth, 1), replies, error, deadline) != Io::ok) {
      return nullptr;
    }
    const redisReply* reply = replies.front().get();
    if (reply->type == REDIS_REPLY_ERROR) {
      error = "AUTH refused by " + address.text() + ": " + std::string(reply->str, reply->len);
      return nullptr;
    }
  }
  return connection;
}

Connection::~Connection() {
  if (broken_ && context_->fd >= 0) {
    // Reset rather than close gracefully: bytes of a command still in our send buffer
    // are dropped instead of trickling to the server later.
    const linger reset{1, 0};
    setsockopt(context_->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  redisFree(context_);
}

bool Connection::usable() const noexcept {
  if (broken_ || context_->err != 0) return false;
  pollfd probe{context_->fd, POLLIN, 0};
  // Readable while idle means EOF, a reset, or bytes nobody asked for: not reusable.
  return poll(&probe, 1, 0) == 0;
}

Io Connection::exchange(std::span<const Args> commands, std::vector<ReplyPtr>& replies,
                        std::string& error, Deadline deadline) {
  replies.clear();
  if (broken_ || context_->err != 0) {  // (idle connections were probed by the pool)
    broken_ = true;
    error = "connection to " + address_.text() + " is closed";
    return Io::not_sent;
  }
  if (deadline.passed()) {
    error = "call deadline passed before sending to " + address_.text();
    return Io::not_sent;
  }
  // Socket timeouts apply per syscall: cut them to what is left of the call.
  const std::chrono::milliseconds timeout = deadline.left(command_);
  if (timeout != timeout_) {
    if (redisSetTimeout(context_, to_timeval(timeout)) != REDIS_OK) {
      broken_ = true;
      error = "cannot set a timeout on the connection to " + address_.text();
      return Io::not_sent;
    }
    timeout_ = timeout;
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> argvlen;
  for (const Args& command : commands) {
    argv.clear();
    argvlen.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      argvlen.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                               argvlen.data()) != REDIS_OK) {
      broken_ = true;
      error = std::string("cannot format a command: ") + context_->errstr;
      return Io::not_sent;
    }
  }
  const std::size_t total = sdslen(context_->obuf);
  {
    SigpipeGuard guard;
    int done = 0;
    while (done == 0) {
      if (redisBufferWrite(context_, &done) != REDIS_OK) {
        broken_ = true;
        const bool any_sent = sdslen(context_->obuf) < total;
        error = "write to " + address_.text() + " failed: " + context_->errstr;
        return any_sent ? Io::sent_no_reply : Io::not_sent;
      }
    }
  }
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr) {
      broken_ = true;
      error = "no reply from " + address_.text() + ": " +
              (context_->errstr[0] != '\0' ? context_->errstr : "connection lost");
      return Io::sent_no_reply;
    }
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  last_used_ = Clock::now();
  return Io::ok;
}

}  // namespace vkv::redis::detail
