// Internal (users never include this directly): the non-template engine under
// vkv::redis::Store. It speaks in encoded values; the Store template encodes, decodes
// and turns outcomes into Results and exceptions. Compiled in src/redis/.
//
// Thread safety: every member may be called from any number of threads at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vkv/redis/options.hpp"
#include "vkv/version.hpp"

namespace vkv::redis::detail {

// One record as Redis holds it, its value still encoded.
struct RawRecord {
  std::string value;
  Version version;
  std::uint64_t revision = 0;
  bool deleted = false;
  std::optional<std::chrono::steady_clock::time_point> expires_at;
};

enum class Status {
  ok,
  absent,       // no record
  deleted,      // soft-deleted (and not included)
  not_deleted,  // restore of a record that is not soft-deleted
  conflict,     // version mismatch; record = the record as it is
  exists,       // create of an existing id; record = the record as it is
  unavailable,  // not reached, or sent and known not applied; reason says why
  unknown_outcome
};

enum class Op { create, put, update, soft_delete, restore, erase, check };

// One write (or a commit's check). ttl: nullopt keeps the key's expiry, zero removes
// it, otherwise the key expires that long after the write.
struct Write {
  Op op = Op::update;
  std::string id;
  Version expected;
  std::string value;  // create, put, update
  bool include_deleted = false;
  std::optional<std::chrono::milliseconds> ttl;
};

struct Outcome {
  Status status = Status::ok;
  // ok: the record written (erase: the record erased; check: the record checked);
  // conflict, exists: the record as it is now.
  std::optional<RawRecord> record;
  std::string reason;  // unavailable, unknown_outcome: what went wrong
};

struct ReadOutcome {
  bool reached = true;              // false: unavailable (reason says why)
  std::optional<RawRecord> record;  // nullopt: absent
  std::string reason;
};

struct CommitOutcome {
  Status status = Status::ok;
  std::size_t failed_entry = 0;  // on failure: the first failing entry, in order
  Version actual;                // on conflict: the version that won
  std::vector<RawRecord> records;
  std::string reason;
};

// Where for_each's SCAN stands: one cursor per master, walked in turn.
struct ScanCursor {
  std::size_t node = 0;
  std::string cursor = "0";
  bool started = false;
  bool done = false;
  std::vector<std::string> masters;  // fixed at the first step
};

class Client {
 public:
  // Validates everything (std::invalid_argument); connects lazily.
  explicit Client(const Options& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // "<key_prefix>:<entity_type>:<id>".
  std::string key_of(std::string_view id) const;
  // Cluster slot-map sweeps (CLUSTER SLOTS rounds) started so far.
  std::uint64_t refresh_sweeps() const noexcept;

  ReadOutcome read(const std::string& id);
  // Pipelined: one round trip per node.
  std::vector<ReadOutcome> read_many(std::span<const std::string> ids);
  Outcome write(const Write& write);
  // Pipelined: one round trip per node; each write decided on its own.
  std::vector<Outcome> write_many(std::span<const Write> writes);
  // All-or-nothing over every entry (ops check, update, soft_delete, erase).
  // Throws std::invalid_argument, before sending anything, if an id repeats or (in
  // cluster mode) the keys span more than one hash slot.
  CommitOutcome commit(std::span<const Write> entries);
  // Throws std::invalid_argument if the commit would be refused (see commit()).
  void validate_commit(std::span<const Write> entries) const;
  // The next batch of records (soft-deleted ones included) as (id, record); false
  // when the scan is over. Throws UnavailableError-style failures as
  // std::runtime_error-derived vkv::UnavailableError.
  bool scan(ScanCursor& cursor, std::vector<std::pair<std::string, RawRecord>>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vkv::redis::detail
