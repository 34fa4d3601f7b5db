// The server-side scripts. Every write reads the record's fields, decides not-found
// and version conflicts, and writes, in one script: Redis runs a script atomically.
//
// Record hash fields: value, version, revision, deleted ("0"/"1"). Besides them a hash
// may hold fences, "fence:<version>" = deadline (server time, ms): a write whose fresh
// version is fenced is refused (fault resolution, core/redis/resolve.cpp). A hash with
// fences but no version field is an absent record.
#include "scripts.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace vkv::redis::detail {

namespace {

// Shared helpers, prepended to every writing script.
constexpr const char* kHelpers = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drops fences past their deadline. `fields`: the record fields present (0 or 4).
local function trim_fences(key, fields)
  if redis.call('HLEN', key) <= fields then return end
  local now = now_ms()
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 6) == 'fence:' and tonumber(all[i + 1]) <= now then
      redis.call('HDEL', key, all[i])
    end
  end
end
)lua";

constexpr const char* kWrite = R"lua(
local key = KEYS[1]
local op, expected, fresh, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local include_deleted, ttl, lifetime = ARGV[5] == '1', ARGV[6], ARGV[7]
if redis.call('HEXISTS', key, 'fence:' .. fresh) == 1 then return {'fenced'} end
local cur = redis.call('HMGET', key, 'value', 'version', 'revision', 'deleted')
local pttl = redis.call('PTTL', key)
local exists = cur[2] ~= false
local function current(status)
  return {status, cur[1], cur[2], cur[3], cur[4], pttl}
end
if op == 'create' then
  if exists then return current('exists') end
elseif op ~= 'put' then
  if not exists then return {'absent'} end
  local deleted = cur[4] == '1'
  if op == 'update' and deleted and not include_deleted then return {'deleted'} end
  if op == 'soft_delete' and deleted then return {'deleted'} end
  if op == 'restore' and not deleted then return {'not_deleted'} end
  if cur[2] ~= expected then return current('conflict') end
end
trim_fences(key, exists and 4 or 0)
if op == 'erase' then
  redis.call('HDEL', key, 'value', 'version', 'revision', 'deleted')
  -- Fences left: the hash stays as long as they matter, then goes.
  if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, lifetime) end
  return current('ok')
end
local revision = 1
if exists then revision = tonumber(cur[3]) + 1 end
local deleted = '0'
if op == 'update' then deleted = cur[4] elseif op == 'soft_delete' then deleted = '1' end
if op == 'soft_delete' or op == 'restore' then value = cur[1] end
redis.call('HSET', key, 'value', value, 'version', fresh, 'revision', tostring(revision),
           'deleted', deleted)
if ttl == '0' then
  redis.call('PERSIST', key)
elseif ttl ~= '' then
  redis.call('PEXPIRE', key, ttl)
end
return {'ok', value, fresh, tostring(revision), deleted, redis.call('PTTL', key)}
)lua";

constexpr const char* kRead = R"lua(
local r = redis.call('HMGET', KEYS[1], 'value', 'version', 'revision', 'deleted')
return {r[1], r[2], r[3], r[4], redis.call('PTTL', KEYS[1])}
)lua";

constexpr const char* kFence = R"lua(
local n = #KEYS
local lifetime = tonumber(ARGV[n + 1])
local deadline = now_ms() + lifetime
local out = {}
for i = 1, n do
  local key, fresh = KEYS[i], ARGV[i]
  local cur = redis.call('HMGET', key, 'value', 'version', 'revision', 'deleted')
  local pttl = redis.call('PTTL', key)
  local state = 'fenced'
  if fresh ~= '' and cur[2] == fresh then state = 'committed' end
  if fresh ~= '' then
    -- Placed even when committed (harmless: a fresh version is never sent again), so
    -- that the fence always writes and a WAIT after it covers the judged write.
    trim_fences(key, cur[2] ~= false and 4 or 0)
    redis.call('HSET', key, 'fence:' .. fresh, tostring(deadline))
    -- No record: the fence-only hash lives as long as its newest fence.
    if cur[2] == false then redis.call('PEXPIRE', key, lifetime) end
  end
  out[i] = {state, cur[1], cur[2], cur[3], cur[4], pttl}
end
return out
)lua";

constexpr const char* kCommit = R"lua(
local n = #KEYS
local lifetime = ARGV[1]
local cur, pttls = {}, {}
for i = 1, n do
  local key, base = KEYS[i], 1 + (i - 1) * 5
  local op, expected, fresh = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  if fresh ~= '' and redis.call('HEXISTS', key, 'fence:' .. fresh) == 1 then
    return {'fenced'}
  end
  local r = redis.call('HMGET', key, 'value', 'version', 'revision', 'deleted')
  if r[2] == false then return {'fail', i, 'absent'} end
  if op ~= 'erase' and r[4] == '1' then return {'fail', i, 'deleted'} end
  if r[2] ~= expected then return {'fail', i, 'conflict', r[2]} end
  cur[i], pttls[i] = r, redis.call('PTTL', key)
end
local out = {'ok'}
for i = 1, n do
  local key, base, r = KEYS[i], 1 + (i - 1) * 5, cur[i]
  local op, fresh, value, ttl = ARGV[base + 1], ARGV[base + 3], ARGV[base + 4], ARGV[base + 5]
  if op == 'check' then
    out[i + 1] = {r[1], r[2], r[3], r[4], pttls[i]}
  elseif op == 'erase' then
    trim_fences(key, 4)
    redis.call('HDEL', key, 'value', 'version', 'revision', 'deleted')
    if redis.call('EXISTS', key) == 1 then redis.call('PEXPIRE', key, lifetime) end
    out[i + 1] = {r[1], r[2], r[3], r[4], pttls[i]}
  else
    trim_fences(key, 4)
    local revision = tostring(tonumber(r[3]) + 1)
    local deleted = '0'
    if op == 'soft_delete' then
      value, deleted = r[1], '1'
    end
    redis.call('HSET', key, 'value', value, 'version', fresh, 'revision', revision,
               'deleted', deleted)
    if ttl == '0' then
      redis.call('PERSIST', key)
    elseif ttl ~= '' then
      redis.call('PEXPIRE', key, ttl)
    end
    out[i + 1] = {value, fresh, revision, deleted, redis.call('PTTL', key)}
  end
end
return out
)lua";

Script make(std::string body) {
  Script script;
  script.sha = sha1_hex(body);
  script.body = std::move(body);
  return script;
}

std::uint32_t rotl(std::uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

}  // namespace

const Script& write_script() {
  static const Script script = make(std::string(kHelpers) + kWrite);
  return script;
}
const Script& read_script() {
  static const Script script = make(kRead);
  return script;
}
const Script& fence_script() {
  static const Script script = make(std::string(kHelpers) + kFence);
  return script;
}
const Script& commit_script() {
  static const Script script = make(std::string(kHelpers) + kCommit);
  return script;
}

std::string sha1_hex(const std::string& bytes) {
  std::uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string data = bytes;
  const std::uint64_t bit_length = static_cast<std::uint64_t>(bytes.size()) * 8;
  data.push_back(static_cast<char>(0x80));
  while (data.size() % 64 != 56) data.push_back('\0');
  for (int i = 7; i >= 0; --i) data.push_back(static_cast<char>((bit_length >> (i * 8)) & 0xff));
  for (std::size_t chunk = 0; chunk < data.size(); chunk += 64) {
    std::uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data() + chunk + i * 4);
      w[i] = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
             (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
    }
    for (int i = 16; i < 80; ++i) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      std::uint32_t f, k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDC;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6;
      }
      const std::uint32_t t = rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (std::uint32_t word : h) {
    for (int shift = 28; shift >= 0; shift -= 4) hex.push_back(kHex[(word >> shift) & 0xf]);
  }
  return hex;
}

}  // namespace vkv::redis::detail
