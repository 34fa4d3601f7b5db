// Internal (users never include this directly; vkv/store.hpp includes it): how a failed outcome
// becomes an error: the ErrorInfo of each verdict, on_conflict, and the throwing and Result forms.
#pragma once

#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::base_info(Errc code, const Key& id) const -> ErrorInfo {
  ErrorInfo info;
  info.code = code;
  info.entity_type = options_.entity_type;
  info.entity_id = detail::key_text(id);
  return info;
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::not_found_info(const Key& id, Verdict verdict) const
    -> ErrorInfo {
  ErrorInfo info = base_info(Errc::not_found, id);
  info.reason = verdict == Verdict::deleted       ? "soft-deleted"
                : verdict == Verdict::not_deleted ? "not soft-deleted"
                                                  : "not found";
  return info;
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::conflict_info(const Key& id, const Version& expected,
                                                  const Version& actual) const -> ErrorInfo {
  ErrorInfo info = base_info(Errc::conflict, id);
  info.expected = expected;
  info.actual = actual;
  return info;
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::notify_conflict(const Key& id, const Version& expected,
                                                    const Version& actual) const -> void {
  if (options_.on_conflict) {
    options_.on_conflict(
        ConflictEvent{options_.entity_type, detail::key_text(id), expected, actual});
  }
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::committed_or_throw(const Key& id, const Version& expected,
                                                       WriteOutcome&& outcome) -> record_type {
  // The check inline, the throwing out of line: a call that returns at once cost ~16
  // instructions per write (its prologue saves registers for the throwing path).
  if (outcome.verdict != Verdict::ok) [[unlikely]]
    throw_if_failed(id, expected, outcome);
  return std::move(*outcome.record);
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::throw_if_failed(const Key& id, const Version& expected,
                                                    const WriteOutcome& outcome) -> void {
  if (outcome.verdict == Verdict::ok) return;
  if (outcome.verdict == Verdict::conflict) {
    notify_conflict(id, expected, outcome.actual);
    throw_error(conflict_info(id, expected, outcome.actual));
  }
  throw_error(not_found_info(id, outcome.verdict));
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::to_result(const Key& id, const Version& expected,
                                              WriteOutcome&& outcome) -> Result<record_type> {
  switch (outcome.verdict) {
    case Verdict::ok:
      return std::move(*outcome.record);
    case Verdict::conflict:
      notify_conflict(id, expected, outcome.actual);
      return Result<record_type>(conflict_info(id, expected, outcome.actual),
                                 std::move(outcome.record));
    default:
      return Result<record_type>(not_found_info(id, outcome.verdict));
  }
}

}  // namespace vkv
