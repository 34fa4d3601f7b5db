// Fault resolution: fence, then judge (see resolve.hpp).
#include "resolve.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <map>

#include "replies.hpp"

namespace vkv::redis::detail {

namespace {

constexpr int kFenceAttempts = 3;  // each on a fresh exchange, all within the deadline

struct FencedKey {
  bool answered = false;
  bool committed = false;  // the record carries the fresh version
  bool erased = false;     // a tombstone names the fresh version: applied, then erased
  long long tombstones = 0;
  long long replicas = -1;          // what the WAIT after its fence counted (-1: none asked)
  std::optional<RawRecord> record;  // the record as the fence saw it
  std::string error;
};

Call fence_call(std::uint16_t slot, const std::vector<std::string>& keys,
                const std::vector<Version>& fresh, const WaitFor& wait) {
  Call call;
  call.slot = slot;
  call.script = &fence_script();
  call.wait = wait;
  call.args = {"EVALSHA", "", std::to_string(keys.size())};
  for (const std::string& key : keys) call.args.push_back(key);
  for (const Version& version : fresh) {
    call.args.push_back(version.is_nil() ? std::string() : version.to_string());
  }
  call.args.push_back(std::to_string(kFenceLifetimeMs));
  return call;
}

// Reads one fence reply into out[first..first+n). False (and out[].error) if refused.
bool read_fence(const CallResult& result, std::size_t n, FencedKey* out) {
  if (result.io != Io::ok) {
    for (std::size_t i = 0; i < n; ++i) out[i].error = result.error;
    return false;
  }
  const redisReply* reply = result.reply.get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
    for (std::size_t i = 0; i < n; ++i)
      out[i].error = "fence refused: " + std::string(text_of(reply));
    return false;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const redisReply* entry = reply->element[i];
    std::string field_error;
    FencedKey& key = out[i];
    key.record = record_from(entry, 1, field_error);
    if (!field_error.empty()) {
      key.error = "fence: malformed record";
      continue;  // answered stays false: unknown
    }
    const std::string_view state = text_of(entry->element[0]);
    key.committed = state == "committed";
    key.erased = state == "erased";
    key.tombstones = entry->elements > 6 && entry->element[6]->type == REDIS_REPLY_INTEGER
                         ? entry->element[6]->integer
                         : 1;  // unreadable: assume there are some (the cautious side)
    key.replicas = result.replicas;
    key.answered = true;
  }
  return true;
}

bool short_of(const WaitFor& wait, long long replicas) {
  return wait.replicas > 0 && replicas < wait.replicas;
}

std::string short_reason(const std::string& why, const WaitFor& wait, long long replicas) {
  return "sent, no reply (" + why + "); it applied on the master, but WAIT counted " +
         std::to_string(std::max(replicas, 0LL)) + " of " + std::to_string(wait.replicas) +
         " replicas within " + std::to_string(wait.timeout.count()) +
         " ms: a failover may still lose it";
}

Outcome judge(const LostWrite& lost, const FencedKey& seen, const WaitFor& wait) {
  Outcome outcome;
  const std::string& why = lost.why;
  if (!seen.answered) {
    outcome.status = Status::unknown_outcome;
    outcome.reason =
        "sent, no reply (" + why + "); the outcome could not be learned: " + seen.error;
    return outcome;
  }
  if ((seen.committed || seen.erased) && short_of(wait, seen.replicas)) {
    outcome.status = Status::unknown_outcome;
    outcome.reason = short_reason(why, wait, seen.replicas);
    return outcome;
  }
  if (seen.committed) {
    outcome.status = Status::ok;
    outcome.record = seen.record;
    return outcome;
  }
  const Write& write = *lost.write;
  bool not_applied = false;
  std::string doubt = "the record moved on, so whether this write applied cannot be told";
  if (seen.erased) {
    doubt = "it applied, and an erase has removed it since";
  } else if (write.op == Op::create) {
    const bool no_ttl = write.ttl && write.ttl->count() == 0;
    const bool recent =
        Clock::now() - lost.sent < std::chrono::milliseconds(kTombstoneLifetimeMs / 2);
    not_applied = !seen.record && seen.tombstones == 0 && no_ttl && recent;
    if (!seen.record && !no_ttl) {
      doubt = "the record is absent, but it had a TTL: it may have applied and expired";
    } else if (!seen.record) {
      doubt = "the record is absent, but it may have applied and been erased since";
    }
  } else if (write.op != Op::put) {  // put: no expected state to compare with
    not_applied = seen.record.has_value() && seen.record->version == write.expected;
  }
  outcome.status = not_applied ? Status::unavailable : Status::unknown_outcome;
  outcome.reason =
      "sent, no reply (" + why + "); " +
      (not_applied ? std::string("not applied, and fenced so it never will be") : doubt);
  return outcome;
}

}  // namespace

bool refused_before_running(std::string_view error) noexcept {
  // Redis checks these before a script runs, or (OOM, READONLY, MISCONF, NOREPLICAS)
  // inside it only until its first write: either way, nothing was applied.
  static constexpr std::string_view kBefore[] = {
      "NOSCRIPT",          "MOVED ",  "ASK ",       "TRYAGAIN",  "CLUSTERDOWN", "BUSY",
      "LOADING",           "OOM",     "NOPERM",     "NOAUTH",    "WRONGPASS",   "READONLY",
      "MASTERDOWN",        "MISCONF", "NOREPLICAS", "CROSSSLOT", "EXECABORT",   "UNKILLABLE",
      "ERR Protocol error"};  // not even parsed (e.g. a big request before AUTH)
  for (std::string_view prefix : kBefore) {
    if (error.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::vector<Outcome> resolve_writes(Router& router, std::span<const LostWrite> lost,
                                    const WaitFor& wait, Deadline deadline) {
  // One fence script per hash slot (a script's keys must share one in a cluster; on a
  // single server every key goes in one script).
  std::map<std::uint16_t, std::vector<std::size_t>> by_slot;
  for (std::size_t i = 0; i < lost.size(); ++i) {
    by_slot[router.cluster() ? key_slot(lost[i].key) : 0].push_back(i);
  }
  std::vector<FencedKey> seen(lost.size());
  std::vector<std::vector<std::size_t>> pending;
  for (auto& [slot, indexes] : by_slot) pending.push_back(std::move(indexes));
  for (int attempt = 0; attempt < kFenceAttempts && !pending.empty(); ++attempt) {
    if (attempt > 0 && deadline.passed()) break;
    std::vector<Call> calls;
    for (const auto& indexes : pending) {
      std::vector<std::string> keys;
      std::vector<Version> fresh;
      for (std::size_t i : indexes) {
        keys.push_back(lost[i].key);
        fresh.push_back(lost[i].fresh);
      }
      calls.push_back(fence_call(key_slot(keys.front()), keys, fresh, wait));
    }
    std::vector<CallResult> results = router.call_many(calls, deadline);
    std::vector<std::vector<std::size_t>> again;
    for (std::size_t g = 0; g < pending.size(); ++g) {
      std::vector<FencedKey> group(pending[g].size());
      const bool ok = read_fence(results[g], group.size(), group.data());
      for (std::size_t k = 0; k < group.size(); ++k) seen[pending[g][k]] = std::move(group[k]);
      if (!ok) again.push_back(pending[g]);
    }
    pending = std::move(again);
  }
  std::vector<Outcome> outcomes;
  outcomes.reserve(lost.size());
  for (std::size_t i = 0; i < lost.size(); ++i) outcomes.push_back(judge(lost[i], seen[i], wait));
  return outcomes;
}

CommitOutcome resolve_commit(Router& router, std::uint16_t slot,
                             const std::vector<std::string>& keys, std::span<const Write> entries,
                             const std::vector<Version>& fresh, const std::string& why,
                             const WaitFor& wait, Deadline deadline) {
  CommitOutcome outcome;
  std::vector<FencedKey> fenced(keys.size());
  const Call call = fence_call(slot, keys, fresh, wait);
  bool answered = false;
  for (int attempt = 0; attempt < kFenceAttempts && !answered; ++attempt) {
    if (attempt > 0 && deadline.passed()) break;
    answered = read_fence(router.call(call, deadline), keys.size(), fenced.data());
  }
  for (const FencedKey& key : fenced) answered = answered && key.answered;
  if (!answered) {
    outcome.status = Status::unknown_outcome;
    outcome.reason = "sent, no reply (" + why + "); the outcome could not be learned: " +
                     (fenced.empty() ? std::string() : fenced.front().error);
    return outcome;
  }
  const long long replicas = fenced.front().replicas;
  bool committed = false;
  bool all_expected = true;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    committed = committed || fenced[i].committed;
    if (entries[i].op == Op::check) continue;
    const auto& record = fenced[i].record;
    if (!record || record->version != entries[i].expected) all_expected = false;
  }
  if (committed && short_of(wait, replicas)) {
    outcome.status = Status::unknown_outcome;
    outcome.reason = short_reason(why, wait, replicas);
    return outcome;
  }
  if (committed) {
    // All-or-nothing: it applied. The written records carry their fresh versions; a
    // check or an erase cannot be returned as it was unless it is still untouched.
    outcome.records.reserve(entries.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& record = fenced[i].record;
      const bool exact = entries[i].op == Op::check
                             ? record && record->version == entries[i].expected
                             : entries[i].op != Op::erase && fenced[i].committed;
      if (!exact) {
        outcome.records.clear();
        outcome.status = Status::unknown_outcome;
        outcome.failed_entry = i;
        outcome.reason = "sent, no reply (" + why + "); it committed, but the records it " +
                         "checked or erased can no longer be returned as they were";
        return outcome;
      }
      outcome.records.push_back(*record);
    }
    outcome.status = Status::ok;
    return outcome;
  }
  outcome.status = all_expected ? Status::unavailable : Status::unknown_outcome;
  outcome.reason = all_expected ? "sent, no reply (" + why + "); not applied, and fenced so " +
                                      "it never will be"
                                : "sent, no reply (" + why + "); records moved on, so " +
                                      "whether this commit applied cannot be told";
  return outcome;
}

}  // namespace vkv::redis::detail
