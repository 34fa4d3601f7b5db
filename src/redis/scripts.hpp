// Internal (src/redis): the Lua scripts that decide every write on the server, sent
// by SHA (EVALSHA) with EVAL as the fallback on NOSCRIPT. The SHA is the digest the
// server's SCRIPT LOAD returns (learned on a script's first use; EVAL until then). Why scripts
// rather than Redis functions: docs/redis.md, "Scripts".
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

namespace vkv::redis::detail {

// Thread safety: sha() and learn() may be called from any thread.
class Script {
 public:
  explicit Script(std::string text) : body(std::move(text)) {}
  const std::string body;
  // The digest SCRIPT LOAD returned, or "" until one was learned.
  std::string sha() const;
  // Keeps the first 40-character digest; later ones are ignored (they are equal).
  void learn(std::string_view digest) const;

 private:
  mutable std::mutex mutex_;
  mutable std::string sha_;  // written once, under mutex_, before known_
  mutable std::atomic<bool> known_{false};
};

// Besides its fields a record's hash may hold marks: "fence:<version>" (fault resolution)
// and "gone:<version>", a tombstone an erase leaves naming the version it removed; each
// holds its deadline (server ms). A hash of marks only is an absent record.
//
// KEYS[1] the record. ARGV: op, expected, fresh, value, include_deleted ("1"/"0"),
// ttl ("" keep, "0" none, else milliseconds), tombstone lifetime (ms).
// Reply: {status} or {status, value, version, revision, deleted, pttl}.
const Script& write_script();
// KEYS[1]. Reply: {value, version, revision, deleted, pttl} (nils when absent).
const Script& read_script();
// KEYS[1..n]; ARGV[1..n] the fresh versions ("" = none); ARGV[n+1] fence lifetime (ms).
// Reply: per key {state, value, version, revision, deleted, pttl, tombstones}: state
// "committed" (the record carries the fresh version), "erased" (a tombstone names it:
// it applied, then was erased) or "fenced"; tombstones: how many the hash holds.
const Script& fence_script();
// KEYS[1..n]; ARGV[1] tombstone lifetime; then per entry: op, expected, fresh, value, ttl.
// Reply: {"ok", {record}...} | {"fail", i, status[, actual]} | {"fenced"}.
const Script& commit_script();

}  // namespace vkv::redis::detail
