// Internal (core/redis): learning the outcome of a write that was sent and got no
// reply (docs/redis.md, "Faults").
//
// First a fence: one script that, atomically, reports "committed" if the record carries
// the write's fresh version, and otherwise records that version as fenced in the
// record's hash so that the write, should it still arrive, is refused by the write
// script. Only then is the record judged: it carries the fresh version -> committed;
// it still carries the expected version (or is still absent, for a create) -> not
// applied, and now never will be; anything else -> unknown. If no fence can be placed
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

// `write` was sent to `key` (slot `slot`) with fresh version `fresh`; `why` is what
// went wrong. Returns ok (with the record), unavailable (known not applied) or
// unknown_outcome.
Outcome resolve_write(Router& router, std::uint16_t slot, const std::string& key,
                      const Write& write, const Version& fresh, const std::string& why,
                      const WaitFor& wait);

// The same for a commit: every key, each write entry's fresh version (nil for checks).
CommitOutcome resolve_commit(Router& router, std::uint16_t slot,
                             const std::vector<std::string>& keys, std::span<const Write> entries,
                             const std::vector<Version>& fresh, const std::string& why,
                             const WaitFor& wait);

}  // namespace vkv::redis::detail
