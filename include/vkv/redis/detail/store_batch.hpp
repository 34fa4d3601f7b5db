// Internal (users never include this directly; vkv/redis/store.hpp includes it): the
// longer members of vkv::redis::Store: the retry loop, find_or_create, batches,
// commits and for_each.
#pragma once

#include "vkv/redis/store.hpp"

namespace vkv::redis {

template <class T, class C>
template <class Mutate>
auto Store<T, C>::update_with_retry(const std::string& id, Mutate&& mutate, RetryPolicy policy)
    -> record_type {
  // The first read is internal: not counted in stats().reads, as in vkv::Store.
  detail::ReadOutcome read = client_.read(id);
  if (!read.reached) throw UnavailableError(options_.entity_type, id, read.reason);
  if (!read.record || read.record->deleted) {
    counters_.add(vkv::detail::Counter::not_found);
    throw EntityNotFoundError(options_.entity_type, id, read.record ? "soft-deleted" : "not found");
  }
  std::optional<record_type> current(decode(id, std::move(*read.record)));
  const int retries = vkv::detail::retry_budget(policy);
  Backoff backoff(policy);
  for (;;) {
    T value = current->value;
    std::invoke(mutate, value);
    const Version expected = current->version;
    detail::Write write =
        write_of(detail::Op::update, id, expected, C::encode(value), WriteOptions{});
    detail::Outcome outcome = client_.write(write);
    if (outcome.status != detail::Status::conflict) {
      return to_result(id, expected, std::move(outcome)).value();
    }
    record_type winner = decode(id, std::move(*outcome.record));
    notify_conflict(id, expected, winner.version);
    if (backoff.retries_done() >= retries) {
      counters_.add(vkv::detail::Counter::retries_exhausted);
      throw OptimisticLockError(options_.entity_type, id, expected, winner.version);
    }
    counters_.add(vkv::detail::Counter::retries);
    vkv::detail::before_retry(policy, backoff);
    current.emplace(std::move(winner));
  }
}

template <class T, class C>
template <class Make>
auto Store<T, C>::find_or_create(std::string id, Make&& make) -> record_type {
  if (std::optional<record_type> found = find(id, ReadOptions{true})) {
    if (found->deleted) throw DuplicateKeyError(options_.entity_type, id);
    return std::move(*found);
  }
  T value = std::invoke(std::forward<Make>(make));
  detail::Outcome outcome =
      client_.write(write_of(detail::Op::create, id, Version(), C::encode(value), WriteOptions{}));
  if (outcome.status == detail::Status::exists && outcome.record && !outcome.record->deleted) {
    return decode(id, std::move(*outcome.record));  // a racing caller created it first
  }
  return to_result(id, Version(), std::move(outcome), detail::Op::create).value();
}

template <class T, class C>
auto Store<T, C>::find_many(std::span<const std::string> ids, ReadOptions options) const
    -> std::vector<std::optional<record_type>> {
  counters_.add(vkv::detail::Counter::reads, ids.size());
  std::vector<detail::ReadOutcome> outcomes = client_.read_many(ids);
  std::vector<std::optional<record_type>> records;
  records.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    detail::ReadOutcome& outcome = outcomes[i];
    if (!outcome.reached) throw UnavailableError(options_.entity_type, ids[i], outcome.reason);
    if (!outcome.record || (outcome.record->deleted && !options.include_soft_deleted)) {
      records.emplace_back();
    } else {
      records.emplace_back(decode(ids[i], std::move(*outcome.record)));
    }
  }
  return records;
}

template <class T, class C>
auto Store<T, C>::update_many(std::span<const VersionedWrite> writes)
    -> std::vector<Result<record_type>> {
  std::vector<detail::Write> raw;
  raw.reserve(writes.size());
  for (const VersionedWrite& write : writes) {
    raw.push_back(
        write_of(detail::Op::update, write.id, write.expected, C::encode(write.value), {}));
  }
  std::vector<detail::Outcome> outcomes = client_.write_many(raw);
  std::vector<Result<record_type>> results;
  results.reserve(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) {
    results.push_back(to_result(writes[i].id, writes[i].expected, std::move(outcomes[i])));
  }
  return results;
}

template <class T, class C>
auto Store<T, C>::try_commit(const transaction_type& tx) -> Result<std::vector<record_type>> {
  using TxOp = typename transaction_type::Op;
  std::vector<detail::Write> entries;
  entries.reserve(tx.size());
  const std::chrono::milliseconds ttl = ttl_of(WriteOptions{});
  for (const auto& entry : tx.entries()) {
    detail::Write write;
    write.id = entry.id;
    write.expected = entry.expected;
    switch (entry.op) {
      case TxOp::check:
        write.op = detail::Op::check;
        break;
      case TxOp::update:
        write.op = detail::Op::update;
        write.value = C::encode(*entry.value);
        write.ttl = ttl;
        break;
      case TxOp::soft_delete:
        write.op = detail::Op::soft_delete;
        break;
      case TxOp::erase:
        write.op = detail::Op::erase;
        break;
    }
    entries.push_back(std::move(write));
  }
  detail::CommitOutcome outcome = client_.commit(entries);  // validates first
  if (outcome.status == detail::Status::ok) {
    std::vector<record_type> records;
    records.reserve(entries.size());
    std::uint64_t written = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].op != detail::Op::check) ++written;
      records.push_back(decode(entries[i].id, std::move(outcome.records[i])));
    }
    counters_.add(vkv::detail::Counter::writes, written);
    return records;
  }
  if (entries.empty()) return std::vector<record_type>{};
  const detail::Write& failed = entries[outcome.failed_entry];
  if (outcome.status == detail::Status::conflict) {
    notify_conflict(failed.id, failed.expected, outcome.actual);
    ErrorInfo info = info_of(failed.id, failed.expected, detail::Status::conflict);
    info.actual = outcome.actual;
    return Result<std::vector<record_type>>(std::move(info));
  }
  if (outcome.status == detail::Status::absent || outcome.status == detail::Status::deleted) {
    counters_.add(vkv::detail::Counter::not_found);
  }
  return Result<std::vector<record_type>>(
      info_of(failed.id, failed.expected, outcome.status, std::move(outcome.reason)));
}

template <class T, class C>
template <class F>
void Store<T, C>::for_each(F&& visit, ReadOptions options) const {
  detail::ScanCursor cursor;
  std::vector<std::pair<std::string, detail::RawRecord>> batch;
  for (;;) {
    batch.clear();
    const bool more = client_.scan(cursor, batch);
    for (auto& [id, raw] : batch) {
      if (raw.deleted && !options.include_soft_deleted) continue;
      const record_type record = decode(id, std::move(raw));
      std::invoke(visit, record);
    }
    if (!more) return;
  }
}

}  // namespace vkv::redis
