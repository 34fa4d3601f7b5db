// vkv-lab sweep --redis, strategy pessimistic: a Redis lock per key, the classic
// single-instance pattern: acquire with `SET <lock> <token> NX PX <ms>`, release with a
// script that deletes the lock only if it still holds this holder's token (so a holder
// whose lock expired never frees someone else's). A waiter that finds the lock taken
// retries after a short random backoff. Not Redlock: one server, no fencing tokens; the
// record's write under the lock is still version-checked, so an expired lock costs a
// conflict, never a lost update.
//
// Thread safety: one RedisLockClient per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace vkv::lab {

// One command on a plain hiredis connection (arguments binary-safe); returns the reply,
// which the caller frees with freeReplyObject. Throws std::runtime_error("<what>: <why>")
// on an I/O error or an error reply. Shared by the lock and the lab's Redis race.
redisReply* redis_command(redisContext* c, const std::vector<std::string>& args, const char* what);

class RedisLockClient {
 public:
  // Connects (and sends AUTH when the URI names credentials); throws
  // std::runtime_error when the server cannot be reached or refuses.
  RedisLockClient(const std::string& uri, std::uint64_t seed);
  ~RedisLockClient();
  RedisLockClient(const RedisLockClient&) = delete;
  RedisLockClient& operator=(const RedisLockClient&) = delete;

  // Blocks until this client holds `lock` (lease `lease`); returns the token to release
  // it with and adds the number of refused SET NX attempts to *waits.
  std::string acquire(const std::string& lock, std::chrono::milliseconds lease,
                      std::uint64_t* waits);
  // True if the lock still held `token` and is now deleted; false if it had expired
  // (and may be someone else's now, which is then left alone).
  bool release(const std::string& lock, const std::string& token);

 private:
  redisContext* context_ = nullptr;
  std::mt19937_64 rng_;
  std::uint64_t next_token_ = 0;
};

}  // namespace vkv::lab
