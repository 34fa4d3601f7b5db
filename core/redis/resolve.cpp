// Fault resolution: fence, then judge (see resolve.hpp).
#include "resolve.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>

#include "replies.hpp"

namespace vkv::redis::detail {

namespace {

constexpr int kFenceAttempts = 3;  // each on a fresh connection, each bounded by the timeouts

struct FencedKey {
  bool committed = false;
  std::optional<RawRecord> record;  // the record as the fence saw it
};

// Places the fences; false (and `error`) if no attempt got an answer. `replicas`: what
// the WAIT after the fence counted (-1 when none was asked).
bool fence(Router& router, std::uint16_t slot, const std::vector<std::string>& keys,
           const std::vector<Version>& fresh, const WaitFor& wait, std::vector<FencedKey>& out,
           long long& replicas, std::string& error) {
  const Script& script = fence_script();
  Call call;
  call.slot = slot;
  call.script = &script;
  call.wait = wait;
  call.args = {"EVALSHA", script.sha, std::to_string(keys.size())};
  for (const std::string& key : keys) call.args.push_back(key);
  for (const Version& version : fresh) {
    call.args.push_back(version.is_nil() ? std::string() : version.to_string());
  }
  call.args.push_back(std::to_string(kFenceLifetimeMs));
  for (int attempt = 0; attempt < kFenceAttempts; ++attempt) {
    CallResult result = router.call(call);
    if (result.io != Io::ok) {
      error = result.error;
      continue;
    }
    const redisReply* reply = result.reply.get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != keys.size()) {
      error = "fence refused: " + std::string(text_of(reply));
      continue;
    }
    out.assign(keys.size(), FencedKey{});
    replicas = result.replicas;
    bool well_formed = true;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const redisReply* entry = reply->element[i];
      std::string field_error;
      out[i].record = record_from(entry, 1, field_error);
      out[i].committed = entry->type == REDIS_REPLY_ARRAY && entry->elements > 0 &&
                         text_of(entry->element[0]) == "committed";
      if (!field_error.empty()) well_formed = false;
    }
    if (well_formed) return true;
    error = "fence: malformed record";
    return false;
  }
  return false;
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

}  // namespace

Outcome resolve_write(Router& router, std::uint16_t slot, const std::string& key,
                      const Write& write, const Version& fresh, const std::string& why,
                      const WaitFor& wait) {
  Outcome outcome;
  std::vector<FencedKey> fenced;
  long long replicas = -1;
  std::string error;
  if (!fence(router, slot, {key}, {fresh}, wait, fenced, replicas, error)) {
    outcome.status = Status::unknown_outcome;
    outcome.reason = "sent, no reply (" + why + "); the outcome could not be learned: " + error;
    return outcome;
  }
  const FencedKey& seen = fenced.front();
  if (seen.committed && short_of(wait, replicas)) {
    outcome.status = Status::unknown_outcome;
    outcome.reason = short_reason(why, wait, replicas);
    return outcome;
  }
  if (seen.committed) {
    outcome.status = Status::ok;
    outcome.record = seen.record;
    return outcome;
  }
  bool not_applied = false;
  switch (write.op) {
    case Op::create:
      not_applied = !seen.record.has_value();
      break;
    case Op::put:  // no expected state to compare with
      break;
    default:
      not_applied = seen.record.has_value() && seen.record->version == write.expected;
      break;
  }
  outcome.status = not_applied ? Status::unavailable : Status::unknown_outcome;
  outcome.reason =
      not_applied ? "sent, no reply (" + why + "); not applied, and fenced so it " + "never will be"
                  : "sent, no reply (" + why + "); the record moved on, so " +
                        "whether this write applied cannot be told";
  return outcome;
}

CommitOutcome resolve_commit(Router& router, std::uint16_t slot,
                             const std::vector<std::string>& keys, std::span<const Write> entries,
                             const std::vector<Version>& fresh, const std::string& why,
                             const WaitFor& wait) {
  CommitOutcome outcome;
  std::vector<FencedKey> fenced;
  long long replicas = -1;
  std::string error;
  if (!fence(router, slot, keys, fresh, wait, fenced, replicas, error)) {
    outcome.status = Status::unknown_outcome;
    outcome.reason = "sent, no reply (" + why + "); the outcome could not be learned: " + error;
    return outcome;
  }
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
