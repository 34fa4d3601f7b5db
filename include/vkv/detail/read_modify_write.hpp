// Internal (users never include this directly): the read-modify-write loops behind
// Store::update_with_retry, over a StoreEngine (detail/store_engine.hpp): read, mutate a
// copy, commit it with the version read; on a conflict, back off (vkv/retry.hpp) and go
// again from the winner. The optimistic loop, and the contention-adaptive one in which
// writers of a hot key take turns (detail/contention.hpp). The compare-and-swap still
// decides every write.
//
// Thread safety: as every store operation. mutate runs outside any Guard; in the
// adaptive loop it runs holding the key's turn, which is not a lock (other writers wait
// for it at most StoreOptions::contention_max_wait).
#pragma once

#include <functional>
#include <utility>

#include "vkv/detail/contention.hpp"
#include "vkv/detail/counters.hpp"
#include "vkv/detail/epoch.hpp"
#include "vkv/detail/expiry.hpp"
#include "vkv/detail/key_text.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/detail/verdict.hpp"
#include "vkv/errors.hpp"
#include "vkv/options.hpp"
#include "vkv/retry.hpp"

namespace vkv::detail {

// After an attempt lost its version check: reports the conflict (on_conflict), throws
// OptimisticLockError when the retries are spent, else counts the retry and backs off.
template <class Engine, class Key>
void before_next_attempt(const Engine& engine, const Key& id, const Version& expected,
                         const Version& actual, const RetryPolicy& policy, Backoff& backoff,
                         int retries) {
  notify_conflict(engine.options(), id, expected, actual);
  if (backoff.retries_done() >= retries) {
    engine.counters().add(Counter::retries_exhausted);
    throw OptimisticLockError(engine.options().entity_type, key_text(id), expected, actual);
  }
  engine.counters().add(Counter::retries);
  before_retry(policy, backoff);
}

// The record to start an attempt from: ok with a copy, or not found.
template <class Engine, class Key>
typename Engine::Outcome read_for_write(const Engine& engine, const Key& id) {
  typename Engine::Outcome outcome;
  const auto& index = engine.index();
  const auto key = index.hashed(id);
  for (;;) {
    {
      epoch::Guard guard;
      const auto* slot = index.find(key);
      const auto* node = slot != nullptr ? slot->load() : nullptr;
      if (node == nullptr) {
        outcome.verdict = Verdict::absent;
        return outcome;
      }
      if (!expired(*node)) [[likely]] {
        if (node->deleted) {
          outcome.verdict = Verdict::deleted;
        } else {
          outcome.record.emplace(make_record(id, *node));
        }
        return outcome;
      }
    }
    // Expired: absent only once removed by the CAS at its node; then read again.
    engine.remove_expired(id, key);
  }
}

// The key is hashed once; each attempt is one index lookup and one compare-and-swap.
// The value is copied once per attempt, into the node the attempt installs; mutate runs
// on it outside any Guard. On a conflict the next attempt starts from the winner's
// value, copied under the Guard of the failed attempt (no extra read).
template <class Engine, class Key, class Mutate>
typename Engine::record_type optimistic_update_with_retry(Engine& engine, const Key& id,
                                                          Mutate& mutate,
                                                          const RetryPolicy& policy) {
  using node_type = typename Engine::node_type;
  using node_ptr = typename Engine::node_ptr;
  const auto& index = engine.index();
  const auto key = index.hashed(id);
  Escalation escalation(policy, key.hash);  // the starvation bound (vkv/retry.hpp)
  escalation.before_attempt();
  node_ptr fresh;
  Version expected;
  for (;;) {
    {
      epoch::Guard guard;
      const auto* slot = index.find(key);
      const node_type* node = slot != nullptr ? slot->load() : nullptr;
      if (node == nullptr || !expired(*node)) [[likely]] {
        const Verdict verdict = decide_live(node, Version(), WriteKind::update, false);
        if (verdict != Verdict::ok && verdict != Verdict::conflict) {
          engine.counters().add(Counter::not_found);
          throw_error(not_found_info(engine.options(), id, verdict));
        }
        fresh = copy_node(node->value, false);
        expected = node->version;
        break;
      }
    }
    engine.remove_expired(id, key);
  }
  const int retries = retry_budget(policy);
  Backoff backoff(policy);
  for (;;) {
    std::invoke(mutate, fresh->value);
    node_ptr next;  // on a conflict: a copy of the winner, for the next attempt
    auto outcome = engine.write(
        id, key, expected, WriteKind::update, false, false,
        [&](const node_type&) {
          fresh->expires = engine.expiry_of(std::nullopt);  // the default expiry
          return std::move(fresh);
        },
        [&](const node_type& winner) { next = copy_node(winner.value, false); });
    if (outcome.verdict == Verdict::ok) return std::move(*outcome.record);
    if (outcome.verdict != Verdict::conflict) {
      throw_error(not_found_info(engine.options(), id, outcome.verdict));
    }
    before_next_attempt(engine, id, expected, outcome.actual, policy, backoff, retries);
    escalation.after_loss();
    fresh = std::move(next);
    expected = outcome.actual;
  }
}

// The optimistic loop, plus: before each attempt, a hot key's writer waits (bounded)
// for the key's turn and then re-reads (the record moved on while it waited); after
// each attempt the outcome feeds the key's heat estimate.
template <class Engine, class Key, class Mutate>
typename Engine::record_type adaptive_update_with_retry(Engine& engine, ContentionTable& table,
                                                        const Key& id, Mutate& mutate,
                                                        const RetryPolicy& policy) {
  using T = typename Engine::value_type;
  const std::size_t hash = engine.index().hashed(id).hash;
  const std::size_t stripe = ContentionTable::stripe_of(hash);
  Escalation escalation(policy, hash);  // the starvation bound (vkv/retry.hpp)
  escalation.before_attempt();
  const int retries = retry_budget(policy);
  Backoff backoff(policy);
  ContentionTable::Turn turn = table.enter(stripe);
  typename Engine::Outcome current = read_for_write(engine, id);
  for (;;) {
    // No record: read_for_write found none (a conflict always carries the winner).
    if (!current.record) {
      engine.counters().add(Counter::not_found);
      throw_error(not_found_info(engine.options(), id, current.verdict));
    }
    if (turn.held()) engine.counters().add(Counter::turns);
    T value = current.record->value;
    std::invoke(mutate, value);
    const Version expected = current.record->version;
    auto outcome = engine.update_impl(id, expected, std::move(value), WriteOptions{}, true);
    const bool conflict = outcome.verdict == Verdict::conflict;
    // A turn already counted its entry; it adds only conflicts from outsiders.
    if (!turn.held() || conflict) table.record(stripe, conflict);
    turn.release();  // before any callback below
    if (outcome.verdict == Verdict::ok) return std::move(*outcome.record);
    if (!conflict) throw_error(not_found_info(engine.options(), id, outcome.verdict));
    before_next_attempt(engine, id, expected, outcome.actual, policy, backoff, retries);
    escalation.after_loss();
    turn = table.enter(stripe);
    // With a turn, re-read: the record moved on while we waited. Without one, go from
    // the winner the conflict returned, as the optimistic loop does.
    current = turn.held() ? read_for_write(engine, id) : std::move(outcome);
  }
}

}  // namespace vkv::detail
