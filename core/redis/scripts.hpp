// Internal (core/redis): the Lua scripts that decide every write on the server, sent
// by SHA (EVALSHA) with EVAL as the fallback on NOSCRIPT. Why scripts rather than
// Redis functions: docs/redis.md, "Scripts".
#pragma once

#include <string>

namespace vkv::redis::detail {

struct Script {
  std::string body;
  std::string sha;  // SHA-1 of body, lowercase hex, as SCRIPT LOAD returns it
};

// KEYS[1] the record. ARGV: op, expected, fresh, value, include_deleted ("1"/"0"),
// ttl ("" keep, "0" none, else milliseconds), fence lifetime (ms).
// Reply: {status} or {status, value, version, revision, deleted, pttl}.
const Script& write_script();
// KEYS[1]. Reply: {value, version, revision, deleted, pttl} (nils when absent).
const Script& read_script();
// KEYS[1..n]; ARGV[1..n] the fresh versions ("" = none); ARGV[n+1] fence lifetime (ms).
// Reply: per key {state ("committed"/"fenced"), value, version, revision, deleted, pttl}.
const Script& fence_script();
// KEYS[1..n]; ARGV[1] fence lifetime; then per entry: op, expected, fresh, value, ttl.
// Reply: {"ok", {record}...} | {"fail", i, status[, actual]} | {"fenced"}.
const Script& commit_script();

// SHA-1 (FIPS 180-4) of `bytes`, lowercase hex.
std::string sha1_hex(const std::string& bytes);

}  // namespace vkv::redis::detail
