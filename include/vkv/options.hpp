// Options of reads, writes and stores, and the conflict event.
#pragma once

#include <cstddef>
#include <functional>
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
};

// Passed to StoreOptions::on_conflict when a version check fails.
struct ConflictEvent {
  std::string_view entity_type;
  std::string entity_id;  // the key, rendered as text
  Version expected;
  Version actual;  // the version that won
};

struct StoreOptions {
  // --- Behaviour ---

  // Named in errors, events and stats ("Customer cust-123: ...").
  std::string entity_type = "Record";

  // Optional. Called synchronously on the thread whose version check failed, before
  // that call returns, and never under an internal lock. It may call back into the
  // store. If it throws, the exception propagates to the caller of the failed
  // operation (which changed nothing).
  std::function<void(const ConflictEvent&)> on_conflict;

  // --- Performance ---

  // Number of index shards (each a tbb::concurrent_hash_map), rounded up to a power
  // of two. 0 = four per hardware thread, at least 8 (see docs/design.md, "Index").
  std::size_t shards = 0;
};

}  // namespace vkv
