// Internal (src/redis): learning the outcome of a write that was sent and got no
// reply (docs/redis.md, "Faults").
//
// First a fence: one script that, atomically, reports "committed" if the record carries
// the write's fresh version, and otherwise records that version as fenced in the
// record's hash so that the write, should it still arrive, is refused by the write
// script. Only then is the record judged: it carries the fresh version -> committed;
// it still carries the expected version -> not applied, and now never will be; a create
// whose record is absent -> not applied only when the servers prove it (no tombstone in
// the hash, no TTL on the create, sent within half a tombstone's lifetime: see
// docs/redis.md, "Faults"); anything else -> unknown. If no fence can be placed
// (the node stays unreachable), the outcome is unknown.
//
// With Options::wait_replicas set, the fence is followed by WAIT on its connection. The
// fence always writes (it is placed even on a committed record), so a WAIT after it
// counts the replicas that hold the judged write too; "committed" with fewer replicas
// than asked is reported unknown_outcome, like a write whose own WAIT fell short.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "router.hpp"
#include "vkv/redis/detail/client.hpp"

namespace vkv::redis::detail {

// Fence lifetime: a stalled command older than this is assumed gone (TCP gives up on a
// closed connection's data well before; discarded connections are reset, not closed).
inline constexpr std::int64_t kFenceLifetimeMs = 5 * 60 * 1000;
// Tombstone lifetime: an erase leaves "gone:<version>" this long. A lost create found
// absent is judged "not applied" only if no tombstone is there and it was sent less
// than half this long ago (so an erase of it since would still show).
inline constexpr std::int64_t kTombstoneLifetimeMs = 60 * 1000;

// A write that was sent and got no usable reply.
struct LostWrite {
  const Write* write = nullptr;
  std::string key;
  Version fresh;
  std::string why;  // what went wrong
  Clock::time_point sent{};
};

// Resolves every lost write: the fences are batched (one script per hash slot, one
// pipelined round trip per node), retried until the deadline. Each outcome is ok (with
// the record), unavailable (known not applied, and fenced so it never will be) or
// unknown_outcome.
std::vector<Outcome> resolve_writes(Router& router, std::span<const LostWrite> lost,
                                    const WaitFor& wait, Deadline deadline);

// The same for a commit: every key, each write entry's fresh version (nil for checks).
CommitOutcome resolve_commit(Router& router, std::uint16_t slot,
                             const std::vector<std::string>& keys, std::span<const Write> entries,
                             const std::vector<Version>& fresh, const std::string& why,
                             const WaitFor& wait, Deadline deadline);

// True for the error replies Redis gives before a script runs (nothing applied):
// redirections, NOSCRIPT, BUSY, LOADING, OOM, NOPERM, ... Any other error reply to a
// writing script may come from a command after one of its writes: outcome unknown.
bool refused_before_running(std::string_view error) noexcept;

}  // namespace vkv::redis::detail
