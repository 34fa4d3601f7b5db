#include "support/redis/admin.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <ctime>
#include <stdexcept>

namespace vkv_test::redis {

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::string;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::status;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::error;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::array;
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::nil;
  }
  return out;
}

// Writing to a socket the server closed raises SIGPIPE; the harness must not change the
// process's dispositions (the store under test promises to survive SIGPIPE without that),
// so it blocks SIGPIPE on this thread for the call and discards one raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec zero{0, 0};
        sigtimedwait(&pipe_, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

}  // namespace

Admin::Admin(const std::string& host, int port, std::chrono::milliseconds timeout)
    : where_(host + ":" + std::to_string(port)) {
  context_ = redisConnectWithTimeout(host.c_str(), port, to_timeval(timeout));
  if (context_ == nullptr || context_->err != 0) {
    const std::string why = context_ ? context_->errstr : "out of memory";
    if (context_) redisFree(context_);
    context_ = nullptr;
    throw std::runtime_error("admin: cannot connect to " + where_ + ": " + why);
  }
  redisSetTimeout(context_, to_timeval(timeout));
}

Admin::~Admin() {
  if (context_) redisFree(context_);
}

Reply Admin::command(const std::vector<std::string>& args) {
  if (context_ == nullptr || context_->err != 0)
    throw std::runtime_error("admin: connection to " + where_ + " is broken");
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  SigpipeGuard guard;
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (raw == nullptr) {
    throw std::runtime_error("admin: " + (args.empty() ? std::string() : args[0]) + " to " +
                             where_ + " failed: " + context_->errstr);
  }
  Reply out = convert(raw);
  freeReplyObject(raw);
  return out;
}

Reply Admin::checked(const std::vector<std::string>& args) {
  Reply r = command(args);
  if (r.is_error()) {
    std::string joined;
    for (const auto& a : args) joined += (joined.empty() ? "" : " ") + a;
    throw std::runtime_error("admin: " + joined + " on " + where_ + ": " + r.text);
  }
  return r;
}

bool Admin::ping(const std::string& host, int port, std::chrono::milliseconds timeout) noexcept {
  try {
    Admin admin(host, port, timeout);
    const Reply r = admin.command({"PING"});
    return r.type == Reply::Type::status && r.text == "PONG";
  } catch (...) {
    return false;
  }
}

std::optional<std::string> info_field(std::string_view info, std::string_view field) {
  std::size_t pos = 0;
  while (pos < info.size()) {
    std::size_t end = info.find('\n', pos);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > field.size() && line.substr(0, field.size()) == field &&
        line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace vkv_test::redis
