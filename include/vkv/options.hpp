// Options of reads, writes and stores, and the conflict event.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "vkv/version.hpp"

namespace vkv {

struct ReadOptions {
  // Also return records that are soft-deleted (their `deleted` is true).
  bool include_soft_deleted = false;
};

struct WriteOptions {
  // Also write records that are soft-deleted; they stay soft-deleted.
  bool include_soft_deleted = false;
  // Time to live counted from this write; unset = StoreOptions::default_ttl; zero =
  // never expires.
  std::optional<std::chrono::nanoseconds> ttl{};
};

// Passed to StoreOptions::on_conflict when a version check fails.
struct ConflictEvent {
  std::string_view entity_type{};
  std::string entity_id{};  // the key, rendered as text
  Version expected{};
  Version actual{};  // the version that won
};

// Passed to StoreOptions::on_evict when the store removes a record by itself.
struct EvictionEvent {
  enum class Reason { evicted, expired };
  Reason reason = Reason::evicted;
  std::string_view entity_type{};
  std::string entity_id{};  // the key, rendered as text
  Version version{};        // the version that was removed
};

struct StoreOptions {
  // --- Behaviour ---

  // Named in errors, events and stats ("Customer cust-123: ...").
  std::string entity_type = "Record";

  // Optional. Called synchronously on the thread whose version check failed, before
  // that call returns, and never under an internal lock. It may call back into the
  // store. If it throws, the exception propagates to the caller of the failed
  // operation (which changed nothing).
  std::function<void(const ConflictEvent&)> on_conflict{};

  // --- Cache layer (docs/guide.md, "A cache"). Zero = off. ---

  // Records expire this long after their last write (WriteOptions::ttl overrides it
  // per write).
  std::chrono::nanoseconds default_ttl{0};
  // Bound on the records held; a create, put or find_or_create past it evicts
  // approximately least-recently-used records.
  std::size_t max_records = 0;
  // Optional. Hears each eviction and expiry removal, on the removing thread, after the
  // removal, with no internal lock held. If it throws, the exception propagates to the
  // caller of the operation that removed the record; the removal, and that
  // operation's own write if it succeeded, stay done (as with a throwing transform).
  std::function<void(const EvictionEvent&)> on_evict{};

  // --- Performance ---

  // Number of index shards (each a tbb::concurrent_hash_map), rounded up to a power
  // of two. 0 = four per hardware thread, at least 8 (see docs/design.md, "Index").
  std::size_t shards = 0;

  // Contention-adaptive mode (off by default; see docs/benchmarks.md,
  // "Contention-adaptive mode", for the measurement behind that default). When on,
  // update_with_retry tracks each key's recent conflict rate (per stripe of key
  // hashes) and, while it is above contention_threshold, makes that key's writers take
  // turns across read..compare-and-swap instead of colliding. Cold keys and readers
  // are unaffected; a writer waits at most contention_max_wait for its turn, then
  // writes optimistically, so no update is lost and nothing can deadlock.
  bool contention_adaptive = false;
  // Conflict rate above which a key counts as hot (0.10 after the seed's "if conflicts
  // happen frequently (>10%), consider pessimistic locking"). A key cools down below
  // half of it.
  double contention_threshold = 0.10;
  // The longest a writer waits for its turn before going optimistic.
  std::chrono::nanoseconds contention_max_wait{std::chrono::microseconds(200)};
};

}  // namespace vkv
