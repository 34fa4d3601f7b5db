// vkv-lab sweep --redis: the pessimistic baseline's Redis lock (see redis_lock.hpp).
#include "redis_lock.hpp"

#include <hiredis/hiredis.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <vkv/redis/detail/keys.hpp>

namespace vkv::lab {

namespace {

// KEYS[1] the lock, ARGV[1] the holder's token: deletes only the holder's own lock.
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
    "else return 0 end";

}  // namespace

redisReply* redis_command(redisContext* c, const std::vector<std::string>& args, const char* what) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (r == nullptr) throw std::runtime_error(std::string(what) + ": " + c->errstr);
  if (r->type == REDIS_REPLY_ERROR) {
    const std::string why(r->str, r->len);
    freeReplyObject(r);
    throw std::runtime_error(std::string(what) + ": " + why);
  }
  return r;
}

RedisLockClient::RedisLockClient(const std::string& uri, std::uint64_t seed) : rng_(seed) {
  redis::detail::Credentials credentials;
  const auto address = redis::detail::parse_uri(uri, &credentials);
  const timeval tv{1, 0};
  context_ = redisConnectWithTimeout(address.host.c_str(), address.port, tv);
  if (context_ == nullptr || context_->err) {
    const std::string why = context_ ? context_->errstr : "out of memory";
    if (context_) redisFree(context_);
    throw std::runtime_error("cannot connect to " + uri + ": " + why);
  }
  redisSetTimeout(context_, tv);
  try {
    if (!credentials.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!credentials.user.empty()) auth.push_back(credentials.user);
      auth.push_back(credentials.password);
      freeReplyObject(redis_command(context_, auth, "redis lock"));
    }
  } catch (...) {
    redisFree(context_);
    throw;
  }
}

RedisLockClient::~RedisLockClient() { redisFree(context_); }

std::string RedisLockClient::acquire(const std::string& lock, std::chrono::milliseconds lease,
                                     std::uint64_t* waits) {
  const std::string token = std::to_string(rng_()) + "-" + std::to_string(++next_token_);
  const std::string ms = std::to_string(lease.count());
  for (;;) {
    redisReply* r = redis_command(context_, {"SET", lock, token, "NX", "PX", ms}, "redis lock");
    const bool taken = r->type == REDIS_REPLY_STATUS;  // +OK; nil when someone holds it
    freeReplyObject(r);
    if (taken) return token;
    ++*waits;
    // A short random backoff (20-100 us, about one or two round trips): waiters that
    // spin at once would only load the server the holder needs.
    std::this_thread::sleep_for(std::chrono::microseconds(20 + rng_() % 81));
  }
}

bool RedisLockClient::release(const std::string& lock, const std::string& token) {
  redisReply* r = redis_command(context_, {"EVAL", kReleaseScript, "1", lock, token}, "redis lock");
  const bool released = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  freeReplyObject(r);
  return released;
}

}  // namespace vkv::lab
