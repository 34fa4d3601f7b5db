// Internal (users never include this directly; vkv/store.hpp includes it): the read-modify-write
// loops: Store::update_with_retry (optimistic and contention-adaptive) and what runs between their
// attempts.
#pragma once

#include "vkv/store.hpp"

namespace vkv {

template <class T, class Key, class Hash, class KeyEqual>
template <class Mutate>
auto Store<T, Key, Hash, KeyEqual>::update_with_retry(const Key& id, Mutate&& mutate,
                                                      RetryPolicy policy) -> record_type {
  if (contention_) return adaptive_update_with_retry(id, mutate, policy);
  // The key is hashed once; each attempt is one index lookup and one compare-and-swap.
  // The value is copied once per attempt, into the node the attempt installs; mutate
  // runs on it outside any Guard. On a conflict the next attempt starts from the
  // winner's value, copied under the Guard of the failed attempt (no extra read).
  const HashedKey key = index_.hashed(id);
  detail::Escalation escalation(policy, key.hash);  // the starvation bound (retry.hpp)
  escalation.before_attempt();
  node_ptr fresh;
  Version expected;
  for (;;) {
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      const node_type* node = slot != nullptr ? slot->load() : nullptr;
      if (node == nullptr || node->expires == 0 || !expired(*node)) [[likely]] {
        const Verdict verdict = decide_live(node, Version(), WriteKind::update, false);
        if (verdict != Verdict::ok && verdict != Verdict::conflict) {
          counters_.add(detail::Counter::not_found);
          throw_error(not_found_info(id, verdict));
        }
        fresh = copy_node(node->value, false);
        expected = node->version;
        break;
      }
    }
    // Expired: absent only once removed by the CAS at its node; then read again.
    remove_expired(id, key);
  }
  const int retries = detail::retry_budget(policy);
  Backoff backoff(policy);
  for (;;) {
    std::invoke(mutate, fresh->value);
    node_ptr next;  // on a conflict: a copy of the winner, for the next attempt
    WriteOutcome outcome = write(
        id, key, expected, WriteKind::update, false, false,
        [&](const node_type&) {
          fresh->expires = expiry_of(std::nullopt);  // the default expiry
          return std::move(fresh);
        },
        [&](const node_type& winner) { next = copy_node(winner.value, false); });
    if (outcome.verdict == Verdict::ok) return std::move(*outcome.record);
    if (outcome.verdict != Verdict::conflict) throw_error(not_found_info(id, outcome.verdict));
    before_next_attempt(id, expected, outcome.actual, policy, backoff, retries);
    escalation.after_loss();
    fresh = std::move(next);
    expected = outcome.actual;
  }
}

template <class T, class Key, class Hash, class KeyEqual>
template <class Mutate>
auto Store<T, Key, Hash, KeyEqual>::adaptive_update_with_retry(const Key& id, Mutate& mutate,
                                                               const RetryPolicy& policy)
    -> record_type {
  const std::size_t hash = index_.hashed(id).hash;
  const std::size_t stripe = detail::ContentionTable::stripe_of(hash);
  detail::Escalation escalation(policy, hash);  // the starvation bound (retry.hpp)
  escalation.before_attempt();
  const int retries = detail::retry_budget(policy);
  Backoff backoff(policy);
  // The record to go from is constructed in place (no optional<Record> moved around
  // on the cold path: that move cost a store-forwarding stall per write).
  detail::ContentionTable::Turn turn = contention_->enter(stripe);
  WriteOutcome current = read_for_write(id);
  for (;;) {
    // No record: read_for_write found none (a conflict always carries the winner).
    if (!current.record) {
      counters_.add(detail::Counter::not_found);
      throw_error(not_found_info(id, current.verdict));
    }
    if (turn.held()) counters_.add(detail::Counter::turns);
    T value = current.record->value;
    std::invoke(mutate, value);
    const Version expected = current.record->version;
    WriteOutcome outcome = update_impl(id, expected, std::move(value), WriteOptions{}, true);
    const bool conflict = outcome.verdict == Verdict::conflict;
    // A turn already counted its entry; it adds only conflicts from outsiders.
    if (!turn.held() || conflict) contention_->record(stripe, conflict);
    turn.release();  // before any callback below
    if (outcome.verdict == Verdict::ok) return std::move(*outcome.record);
    if (!conflict) throw_error(not_found_info(id, outcome.verdict));
    before_next_attempt(id, expected, outcome.actual, policy, backoff, retries);
    escalation.after_loss();
    turn = contention_->enter(stripe);
    // With a turn, re-read: the record moved on while we waited. Without one, go
    // from the winner the conflict returned, as the optimistic loop does.
    current = turn.held() ? read_for_write(id) : std::move(outcome);
  }
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::before_next_attempt(const Key& id, const Version& expected,
                                                        const Version& actual,
                                                        const RetryPolicy& policy, Backoff& backoff,
                                                        int retries) -> void {
  notify_conflict(id, expected, actual);
  if (backoff.retries_done() >= retries) {
    counters_.add(detail::Counter::retries_exhausted);
    throw OptimisticLockError(options_.entity_type, detail::key_text(id), expected, actual);
  }
  counters_.add(detail::Counter::retries);
  detail::before_retry(policy, backoff);
}

template <class T, class Key, class Hash, class KeyEqual>
auto Store<T, Key, Hash, KeyEqual>::read_for_write(const Key& id) const -> WriteOutcome {
  WriteOutcome outcome;
  const HashedKey key = index_.hashed(id);
  for (;;) {
    {
      detail::epoch::Guard guard;
      const slot_type* slot = index_.find(key);
      const node_type* node = slot != nullptr ? slot->load() : nullptr;
      if (node == nullptr) {
        outcome.verdict = Verdict::absent;
        return outcome;
      }
      if (node->expires == 0 || !expired(*node)) [[likely]] {
        if (node->deleted) {
          outcome.verdict = Verdict::deleted;
        } else {
          outcome.record.emplace(make_record(id, *node));
        }
        return outcome;
      }
    }
    // Expired: absent only once removed by the CAS at its node; then read again.
    remove_expired(id, key);
  }
}

}  // namespace vkv
