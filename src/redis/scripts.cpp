// The server-side scripts. Every write reads the record's fields, decides not-found
// and version conflicts, and writes, in one script: Redis runs a script atomically.
//
// Record hash fields: value, version, revision, deleted ("0"/"1"). Besides them a hash
// may hold marks, each = its deadline (server time, ms): fences, "fence:<version>" (a
// write whose fresh version is fenced is refused: fault resolution,
// src/redis/resolve.cpp), and tombstones, "gone:<version>", left by an erase for
// kTombstoneLifetimeMs. A hash with marks but no version field is an absent record.
#include "scripts.hpp"

namespace vkv::redis::detail {

namespace {

// Shared helpers, prepended to every writing script.
//
// A script never names a key after a write of its own may have deleted it: on a slot's
// source node in MIGRATING state Redis refuses, inside the script, a command on a key
// that is not there, and a script is not rolled back. So an erase first adds its
// tombstone, then removes the record fields: the hash never becomes empty, and what to
// PEXPIRE is decided from what trim_marks saw before the delete.
constexpr const char* kHelpers = R"lua(
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Drops fences and tombstones past their deadline. `fields`: the record fields present
-- (0 or 4). Returns the latest deadline left (0 if none) and the tombstones left.
local function trim_marks(key, fields)
  if redis.call('HLEN', key) <= fields then return 0, 0 end
  local now = now_ms()
  local all = redis.call('HGETALL', key)
  local latest, gone = 0, 0
  for i = 1, #all, 2 do
    local name = all[i]
    local fence, tomb = string.sub(name, 1, 6) == 'fence:', string.sub(name, 1, 5) == 'gone:'
    if fence or tomb then
      local deadline = tonumber(all[i + 1])
      if deadline <= now then
        redis.call('HDEL', key, name)
      else
        if deadline > latest then latest = deadline end
        if tomb then gone = gone + 1 end
      end
    end
  end
  return latest, gone
end
-- Erases the record at `key` (present), leaving "gone:<version>" for `tomb_ms`; the
-- hash lives until its latest fence or tombstone ends.
local function erase_record(key, version, tomb_ms)
  local latest = trim_marks(key, 4)
  local now = now_ms()
  local deadline = now + tonumber(tomb_ms)
  redis.call('HSET', key, 'gone:' .. version, tostring(deadline))
  redis.call('HDEL', key, 'value', 'version', 'revision', 'deleted')
  if latest > deadline then deadline = latest end
  redis.call('PEXPIRE', key, deadline - now)
end
-- Applies a write's ttl to `key`: '0' removes the expiry, milliseconds set it, '' keeps
-- it, except on a record that did not exist (`existed` false): a record made on a hash
-- of fences or tombstones does not inherit their expiry. Returns the key's PTTL after
-- the write (-1: none).
local function apply_ttl(key, ttl, existed)
  if ttl == '0' or (ttl == '' and not existed) then
    redis.call('PERSIST', key)
    return -1
  elseif ttl ~= '' then
    redis.call('PEXPIRE', key, ttl)
    return tonumber(ttl)
  end
  return redis.call('PTTL', key)
end
)lua";

// Server work per call: one HMGET reads the fields and the fence
// together; PTTL only where the reply needs the record's expiry as it was.
constexpr const char* kWrite = R"lua(
local key = KEYS[1]
local op, expected, fresh, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local include_deleted, ttl, tomb_ms = ARGV[5] == '1', ARGV[6], ARGV[7]
local cur = redis.call('HMGET', key, 'value', 'version', 'revision', 'deleted', 'fence:' .. fresh)
if cur[5] then return {'fenced'} end
local exists = cur[2] ~= false
local function current(status)
  return {status, cur[1], cur[2], cur[3], cur[4], redis.call('PTTL', key)}
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
if op == 'erase' then
  local erased = current('ok')
  erase_record(key, cur[2], tomb_ms)
  return erased
end
trim_marks(key, exists and 4 or 0)
local revision = 1
if exists then revision = tonumber(cur[3]) + 1 end
local deleted = '0'
if op == 'update' then deleted = cur[4] elseif op == 'soft_delete' then deleted = '1' end
if op == 'soft_delete' or op == 'restore' then value = cur[1] end
redis.call('HSET', key, 'value', value, 'version', fresh, 'revision', tostring(revision),
           'deleted', deleted)
return {'ok', value, fresh, tostring(revision), deleted, apply_ttl(key, ttl, exists)}
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
  local state, gone = 'fenced', 0
  if fresh ~= '' and cur[2] == fresh then state = 'committed' end
  if fresh ~= '' then
    -- Placed even when committed (harmless: a fresh version is never sent again), so
    -- that the fence always writes and a WAIT after it covers the judged write.
    local _, tombs = trim_marks(key, cur[2] ~= false and 4 or 0)
    gone = tombs
    if state ~= 'committed' and redis.call('HEXISTS', key, 'gone:' .. fresh) == 1 then
      state = 'erased'  -- it applied, and an erase removed it since
    end
    redis.call('HSET', key, 'fence:' .. fresh, tostring(deadline))
    -- No record: the mark-only hash lives as long as its newest fence.
    if cur[2] == false then redis.call('PEXPIRE', key, lifetime) end
  end
  out[i] = {state, cur[1], cur[2], cur[3], cur[4], pttl, gone}
end
return out
)lua";

constexpr const char* kCommit = R"lua(
local n = #KEYS
local tomb_ms = ARGV[1]
local cur, pttls = {}, {}
for i = 1, n do
  local key, base = KEYS[i], 1 + (i - 1) * 5
  local op, expected, fresh = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3]
  local fence = 'fence:' .. fresh
  local r = redis.call('HMGET', key, 'value', 'version', 'revision', 'deleted', fence)
  if fresh ~= '' and r[5] then return {'fenced'} end
  if r[2] == false then return {'fail', i, 'absent'} end
  if op ~= 'erase' and r[4] == '1' then return {'fail', i, 'deleted'} end
  if r[2] ~= expected then return {'fail', i, 'conflict', r[2]} end
  cur[i] = r
  if op == 'check' or op == 'erase' then pttls[i] = redis.call('PTTL', key) end
end
local out = {'ok'}
for i = 1, n do
  local key, base, r = KEYS[i], 1 + (i - 1) * 5, cur[i]
  local op, fresh, value, ttl = ARGV[base + 1], ARGV[base + 3], ARGV[base + 4], ARGV[base + 5]
  if op == 'check' then
    out[i + 1] = {r[1], r[2], r[3], r[4], pttls[i]}
  elseif op == 'erase' then
    erase_record(key, r[2], tomb_ms)
    out[i + 1] = {r[1], r[2], r[3], r[4], pttls[i]}
  else
    trim_marks(key, 4)
    local revision = tostring(tonumber(r[3]) + 1)
    local deleted = '0'
    if op == 'soft_delete' then
      value, deleted = r[1], '1'
    end
    redis.call('HSET', key, 'value', value, 'version', fresh, 'revision', revision,
               'deleted', deleted)
    out[i + 1] = {value, fresh, revision, deleted, apply_ttl(key, ttl, true)}
  end
end
return out
)lua";

}  // namespace

const Script& write_script() {
  static const Script script = Script(std::string(kHelpers) + kWrite);
  return script;
}
const Script& read_script() {
  static const Script script = Script(kRead);
  return script;
}
const Script& fence_script() {
  static const Script script = Script(std::string(kHelpers) + kFence);
  return script;
}
const Script& commit_script() {
  static const Script script = Script(std::string(kHelpers) + kCommit);
  return script;
}

std::string Script::sha() const {
  // acquire: pairs with learn()'s release store; sha_ is written once, before it.
  if (!known_.load(std::memory_order_acquire)) return std::string();
  return sha_;
}

void Script::learn(std::string_view digest) const {
  std::lock_guard lock(mutex_);
  // relaxed: under mutex_, which orders this load with any earlier learn().
  if (known_.load(std::memory_order_relaxed) || digest.size() != 40) return;
  sha_ = std::string(digest);
  known_.store(true, std::memory_order_release);  // publishes sha_ to sha()
}

}  // namespace vkv::redis::detail
