// Internal (users never include this directly): the verdict of a write and how a
// failed one becomes an error. The engine (detail/store_engine.hpp) returns plain
// outcomes and never throws on its hot path; vkv::Store (vkv/store.hpp) throws or
// returns a Result from them, through the functions below.
#pragma once

#include <optional>
#include <utility>

#include "vkv/detail/key_text.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/errors.hpp"
#include "vkv/options.hpp"
#include "vkv/result.hpp"

namespace vkv::detail {

enum class WriteKind { update, soft_delete, restore, erase };
enum class Verdict { ok, absent, deleted, not_deleted, conflict };

template <class Rec>
struct WriteOutcome {
  Verdict verdict = Verdict::ok;
  Version actual;             // conflict: the version that won
  std::optional<Rec> record;  // ok: the written (or erased) record;
                              // conflict: the winner, when asked for
};

// The one decision of every version-checked write, made on the node the
// compare-and-swap compares (or, after a failed one, on the node that won), known not
// to be expired.
template <class T>
[[gnu::always_inline]] inline Verdict decide_live(const Node<T>* node, const Version& expected,
                                                  WriteKind kind, bool include_deleted) noexcept {
  if (node == nullptr) return Verdict::absent;
  switch (kind) {
    case WriteKind::update:
      if (node->deleted && !include_deleted) return Verdict::deleted;
      break;
    case WriteKind::soft_delete:
      if (node->deleted) return Verdict::deleted;
      break;
    case WriteKind::restore:
      if (!node->deleted) return Verdict::not_deleted;
      break;
    case WriteKind::erase:
      break;
  }
  return node->version == expected ? Verdict::ok : Verdict::conflict;
}

template <class Key>
ErrorInfo base_info(const StoreOptions& options, Errc code, const Key& id) {
  ErrorInfo info;
  info.code = code;
  info.entity_type = options.entity_type;
  info.entity_id = key_text(id);
  return info;
}

template <class Key>
ErrorInfo not_found_info(const StoreOptions& options, const Key& id, Verdict verdict) {
  ErrorInfo info = base_info(options, Errc::not_found, id);
  info.reason = verdict == Verdict::deleted       ? "soft-deleted"
                : verdict == Verdict::not_deleted ? "not soft-deleted"
                                                  : "not found";
  return info;
}

template <class Key>
ErrorInfo conflict_info(const StoreOptions& options, const Key& id, const Version& expected,
                        const Version& actual) {
  ErrorInfo info = base_info(options, Errc::conflict, id);
  info.expected = expected;
  info.actual = actual;
  return info;
}

// Runs on_conflict: on the failing thread, before the call returns, outside any Guard or
// lock. If it throws, the exception propagates.
template <class Key>
void notify_conflict(const StoreOptions& options, const Key& id, const Version& expected,
                     const Version& actual) {
  if (options.on_conflict) {
    options.on_conflict(ConflictEvent{options.entity_type, key_text(id), expected, actual});
  }
}

// Throws what a failed outcome means. Out of line and cold: callers test the verdict
// first, so a write that succeeds pays one compare.
template <class Key, class Rec>
[[gnu::cold, gnu::noinline]] void throw_failed(const StoreOptions& options, const Key& id,
                                               const Version& expected,
                                               const WriteOutcome<Rec>& outcome) {
  if (outcome.verdict == Verdict::conflict) {
    notify_conflict(options, id, expected, outcome.actual);
    throw_error(conflict_info(options, id, expected, outcome.actual));
  }
  throw_error(not_found_info(options, id, outcome.verdict));
}

// The written record, or the exception a failed outcome means.
template <class Key, class Rec>
Rec committed_or_throw(const StoreOptions& options, const Key& id, const Version& expected,
                       WriteOutcome<Rec>&& outcome) {
  if (outcome.verdict != Verdict::ok) [[unlikely]]
    throw_failed(options, id, expected, outcome);
  return std::move(*outcome.record);
}

// The non-throwing form: on a conflict, the Result carries the record as it is now.
template <class Key, class Rec>
Result<Rec> to_result(const StoreOptions& options, const Key& id, const Version& expected,
                      WriteOutcome<Rec>&& outcome) {
  switch (outcome.verdict) {
    case Verdict::ok:
      return std::move(*outcome.record);
    case Verdict::conflict:
      notify_conflict(options, id, expected, outcome.actual);
      return Result<Rec>(conflict_info(options, id, expected, outcome.actual),
                         std::move(outcome.record));
    default:
      return Result<Rec>(not_found_info(options, id, outcome.verdict));
  }
}

}  // namespace vkv::detail
