// The errors of vkv's throwing API.
#pragma once

#include <stdexcept>
#include <string>

#include "vkv/version.hpp"

namespace vkv {

// unavailable and unknown_outcome come only from remote stores (vkv::redis).
enum class Errc { not_found = 1, conflict, duplicate_key, unavailable, unknown_outcome };

// The name of an Errc ("not_found", "conflict", "duplicate_key", "unavailable",
// "unknown_outcome").
const char* errc_name(Errc code) noexcept;

// Everything needed to describe (and throw) a refused operation. Carried by
// Result<R> so the non-throwing API loses nothing the throwing one would say.
struct ErrorInfo {
  Errc code = Errc::not_found;
  std::string entity_type;
  std::string entity_id;  // the key, rendered as text
  Version expected;       // conflict: the version the caller named
  Version actual;         // conflict: the version that won
  std::string reason;     // not_found: "not found", "soft-deleted", "not soft-deleted";
                          // unavailable, unknown_outcome: what went wrong (the server's words)
};

// Base of every error vkv throws for a refused operation. what() names the entity
// type and id, e.g. "Customer cust-123: version mismatch (expected 7c9e..., found 1b4e...)".
//
// Thread safety: immutable after construction.
class Error : public std::runtime_error {
 public:
  Error(Errc code, std::string entity_type, std::string entity_id, const std::string& message);

  Errc code() const noexcept { return code_; }
  const std::string& entity_type() const noexcept { return entity_type_; }
  const std::string& entity_id() const noexcept { return entity_id_; }

 private:
  Errc code_;
  std::string entity_type_;
  std::string entity_id_;
};

// The version a write named is not the record's current version.
class OptimisticLockError : public Error {
 public:
  OptimisticLockError(std::string entity_type, std::string entity_id, const Version& expected,
                      const Version& actual);

  const Version& expected_version() const noexcept { return expected_; }
  const Version& actual_version() const noexcept { return actual_; }  // the version that won

 private:
  Version expected_;
  Version actual_;
};

// The record is absent, or soft-deleted and not included (or, for restore, not
// soft-deleted). `reason` says which, and becomes part of what().
class EntityNotFoundError : public Error {
 public:
  EntityNotFoundError(std::string entity_type, std::string entity_id,
                      const std::string& reason = "not found");
};

// create() of an id that exists (soft-deleted records included).
class DuplicateKeyError : public Error {
 public:
  DuplicateKeyError(std::string entity_type, std::string entity_id);
};

// Remote store (vkv::redis): the server was not reached, or a read went unanswered.
// Nothing was applied. `reason` says what failed and becomes part of what().
class UnavailableError : public Error {
 public:
  UnavailableError(std::string entity_type, std::string entity_id,
                   const std::string& reason = "server unavailable");
};

// Remote store (vkv::redis): a write was sent and its outcome could not be learned
// (the record moved on to a version that is neither the expected nor the written one
// before the store could read it). The write may or may not have been applied.
class UnknownOutcomeError : public Error {
 public:
  UnknownOutcomeError(std::string entity_type, std::string entity_id,
                      const std::string& reason = "outcome unknown");
};

// Throws the Error subtype matching info.code.
[[noreturn]] void throw_error(const ErrorInfo& info);

// The message what() carries for `info`.
std::string error_message(const ErrorInfo& info);

}  // namespace vkv
