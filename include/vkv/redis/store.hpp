// vkv::redis::Store: the vkv store over Redis or Redis Cluster, for records shared
// by many processes.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vkv/detail/counters.hpp"
#include "vkv/detail/version_generator.hpp"
#include "vkv/errors.hpp"
#include "vkv/options.hpp"
#include "vkv/record.hpp"
#include "vkv/redis/codec.hpp"
#include "vkv/redis/detail/client.hpp"
#include "vkv/redis/options.hpp"
#include "vkv/result.hpp"
#include "vkv/retry.hpp"
#include "vkv/stats.hpp"
#include "vkv/transaction.hpp"

namespace vkv::redis {

// A stored value that the Codec could not decode (what() names the entity type, the
// key and the codec's message). Thrown by every call that returns or visits that
// record; nothing is changed by it.
class DecodeError : public std::runtime_error {
 public:
  DecodeError(const std::string& entity_type, const std::string& id, const std::string& why)
      : std::runtime_error(entity_type + " " + id + ": cannot decode the stored value: " + why) {}
};

// Records of one entity type in Redis: each one hash at "<key_prefix>:<entity_type>:<id>"
// with fields value, version, revision, deleted, written only by server-side scripts
// that decide not-found and version conflicts atomically (docs/redis.md).
//
// Thread safety: every member may be called from any number of threads at once; a
// connection pool per node serves them. Versions are made by this process
// (vkv::detail::next_version) and never collide with another process's.
//
// Errors: as vkv::Store, plus UnavailableError (not reached; nothing applied) and
// UnknownOutcomeError (sent; the outcome could not be learned), and DecodeError.
template <class T, class C = Codec<T>>
class Store {
 public:
  using record_type = Record<T, std::string>;
  using transaction_type = Transaction<T, std::string>;

  struct VersionedWrite {
    std::string id;
    Version expected;
    T value;
  };

  // Connects lazily. Throws std::invalid_argument on a malformed URI, or a key_prefix
  // or entity_type holding '{' or '}' (they would change a key's hash slot).
  explicit Store(Options options) : options_(std::move(options)), client_(options_) {}
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // @name Single-record operations: the semantics of vkv::Store<T, std::string>.

  record_type create(std::string id, T value) {
    return create(std::move(id), std::move(value), WriteOptions{});
  }
  record_type create(std::string id, T value, WriteOptions options) {
    return try_create_impl(std::move(id), std::move(value), options).value();
  }

  std::optional<record_type> find(const std::string& id, ReadOptions options = {}) const {
    counters_.add(vkv::detail::Counter::reads);
    detail::ReadOutcome outcome = client_.read(id);
    if (!outcome.reached) throw UnavailableError(options_.entity_type, id, outcome.reason);
    if (!outcome.record || (outcome.record->deleted && !options.include_soft_deleted)) {
      return std::nullopt;
    }
    return decode(id, std::move(*outcome.record));
  }

  // Calls f(const RecordView<T, std::string>&) with the record as read, no connection
  // held; false (f not called) if absent or soft-deleted (unless included).
  template <class F>
  bool visit(const std::string& id, F&& f, ReadOptions options = {}) const {
    std::optional<record_type> record = find(id, options);
    if (!record) return false;
    const RecordView<T, std::string> view{record->id,       record->value,   record->version,
                                          record->revision, record->deleted, record->expires_at};
    std::invoke(std::forward<F>(f), view);
    return true;
  }

  record_type update_with_version(const std::string& id, const Version& expected, T value,
                                  WriteOptions options = {}) {
    return try_update_with_version(id, expected, std::move(value), options).value();
  }

  template <class Transform>
  auto update_with_version(const std::string& id, const Version& expected, T value,
                           WriteOptions options, Transform&& transform)
      -> std::invoke_result_t<Transform, record_type> {
    record_type committed = update_with_version(id, expected, std::move(value), options);
    return std::invoke(std::forward<Transform>(transform), std::move(committed));
  }

  template <class Mutate>
  record_type patch_with_version(const std::string& id, const Version& expected, Mutate&& mutate,
                                 WriteOptions options = {}) {
    return try_patch_with_version(id, expected, std::forward<Mutate>(mutate), options).value();
  }

  record_type soft_delete(const std::string& id, const Version& expected) {
    return try_soft_delete(id, expected).value();
  }
  record_type restore(const std::string& id, const Version& expected) {
    return try_restore(id, expected).value();
  }
  void erase(const std::string& id, const Version& expected) { try_erase(id, expected).value(); }

  // @name Non-throwing twins (they may still throw std::bad_alloc, DecodeError and
  // what user callbacks throw). On Errc::conflict, Result::current() is the record as
  // the server had it when the check failed (returned by the same script).

  Result<record_type> try_create(std::string id, T value) {
    return try_create_impl(std::move(id), std::move(value), WriteOptions{});
  }
  Result<record_type> try_update_with_version(const std::string& id, const Version& expected,
                                              T value, WriteOptions options = {}) {
    return run(write_of(detail::Op::update, id, expected, C::encode(value), options));
  }
  // Reads the record, calls mutate on a copy of its value only if the version matches,
  // then writes the copy with the same version check on the server.
  template <class Mutate>
  Result<record_type> try_patch_with_version(const std::string& id, const Version& expected,
                                             Mutate&& mutate, WriteOptions options = {}) {
    detail::ReadOutcome read = client_.read(id);
    if (!read.reached) return failure(id, expected, detail::Status::unavailable, read.reason);
    if (!read.record) return failure(id, expected, detail::Status::absent);
    if (read.record->deleted && !options.include_soft_deleted) {
      return failure(id, expected, detail::Status::deleted);
    }
    if (read.record->version != expected) {
      detail::Outcome conflict{detail::Status::conflict, std::move(read.record), {}};
      return to_result(id, expected, std::move(conflict));
    }
    T value = decode(id, std::move(*read.record)).value;
    std::invoke(std::forward<Mutate>(mutate), value);
    return run(write_of(detail::Op::update, id, expected, C::encode(value), options));
  }
  Result<record_type> try_soft_delete(const std::string& id, const Version& expected) {
    return run(flag_write(detail::Op::soft_delete, id, expected));
  }
  Result<record_type> try_restore(const std::string& id, const Version& expected) {
    return run(flag_write(detail::Op::restore, id, expected));
  }
  // value(): the erased record.
  Result<record_type> try_erase(const std::string& id, const Version& expected) {
    return run(flag_write(detail::Op::erase, id, expected));
  }

  // @name Read-modify-write, cache fills.

  // Read, mutate a copy, write with the version read; on a conflict, back off per
  // `policy` and go again from the record the conflict's reply carried (no extra
  // read). Throws EntityNotFoundError if absent or soft-deleted (also between
  // retries), OptimisticLockError once the retries are spent.
  template <class Mutate>
  record_type update_with_retry(const std::string& id, Mutate&& mutate, RetryPolicy policy = {});

  // Unconditional write: creates (revision 1) or replaces whatever is there
  // (revision + 1, deleted = false), with a fresh version, in one script.
  record_type put(std::string id, T value, WriteOptions options = {}) {
    return run(write_of(detail::Op::put, id, Version(), C::encode(value), options)).value();
  }

  // The record if it exists; otherwise creates it from make() (run outside any lock,
  // possibly in several racing callers) and returns the one record created. A
  // soft-deleted id exists: DuplicateKeyError.
  template <class Make>
  record_type find_or_create(std::string id, Make&& make);

  // @name Batches: pipelined, one round trip per node.

  std::vector<std::optional<record_type>> find_many(std::span<const std::string> ids,
                                                    ReadOptions options = {}) const;
  std::vector<Result<record_type>> update_many(std::span<const VersionedWrite> writes);

  // @name Atomic multi-record commit: one script over every key (docs/redis.md).
  // Cluster mode: every id must hash to one slot ({tag}), else std::invalid_argument
  // naming the keys, before anything is sent. An id named twice: std::invalid_argument.

  std::vector<record_type> commit(const transaction_type& tx) { return try_commit(tx).value(); }
  Result<std::vector<record_type>> try_commit(const transaction_type& tx);

  // @name Whole-store views.

  // visit(const record_type&) for every record (soft-deleted ones only when included),
  // by SCAN over every master: weakly consistent (a record written during the scan may
  // be seen in either state, or missed if created or erased meanwhile; SCAN may return
  // a key twice, which vkv does not filter). visit runs with no connection held.
  template <class F>
  void for_each(F&& visit, ReadOptions options = {}) const;

  // Counters since construction, summed from per-thread cells.
  StoreStats stats() const { return counters_.sum(); }

  const Options& options() const noexcept { return options_; }
  // Cluster slot-map sweeps (CLUSTER SLOTS rounds) started so far: concurrent callers
  // that need a refresh share one sweep (docs/redis.md, "Routing").
  std::uint64_t slot_map_refreshes() const noexcept { return client_.refresh_sweeps(); }

 private:
  Result<record_type> try_create_impl(std::string id, T value, const WriteOptions& options) {
    return run(write_of(detail::Op::create, id, Version(), C::encode(value), options));
  }

  // The key's expiry for a write with `options`: WriteOptions::ttl, else default_ttl;
  // rounded up to whole milliseconds so that a tiny TTL never means "never".
  std::chrono::milliseconds ttl_of(const WriteOptions& options) const {
    const std::chrono::nanoseconds ttl = options.ttl ? *options.ttl : options_.default_ttl;
    if (ttl <= std::chrono::nanoseconds::zero()) return std::chrono::milliseconds(0);
    return std::chrono::ceil<std::chrono::milliseconds>(ttl);
  }

  detail::Write write_of(detail::Op op, const std::string& id, const Version& expected,
                         std::string value, const WriteOptions& options) const {
    detail::Write write;
    write.op = op;
    write.id = id;
    write.expected = expected;
    write.value = std::move(value);
    write.include_deleted = options.include_soft_deleted;
    write.ttl = ttl_of(options);
    return write;
  }
  // soft_delete, restore and erase keep the key's expiry.
  detail::Write flag_write(detail::Op op, const std::string& id, const Version& expected) const {
    detail::Write write;
    write.op = op;
    write.id = id;
    write.expected = expected;
    return write;
  }

  Result<record_type> run(const detail::Write& write) {
    return to_result(write.id, write.expected, client_.write(write), write.op);
  }

  record_type decode(const std::string& id, detail::RawRecord&& raw) const {
    std::optional<T> value;
    try {
      value.emplace(C::decode(raw.value));
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      throw DecodeError(options_.entity_type, client_.key_of(id), e.what());
    }
    return record_type{id,           std::move(*value), raw.version,
                       raw.revision, raw.deleted,       raw.expires_at};
  }

  ErrorInfo info_of(const std::string& id, const Version& expected, detail::Status status,
                    std::string reason = {}) const {
    ErrorInfo info;
    info.entity_type = options_.entity_type;
    info.entity_id = id;
    info.expected = expected;
    // Each refusal's Errc and reason; a null reason is the caller's (unavailable and
    // unknown outcomes say what failed).
    struct Refusal {
      Errc code;
      const char* reason;
    };
    const Refusal refusal = [status]() -> Refusal {
      switch (status) {
        case detail::Status::absent:
          return {Errc::not_found, "not found"};
        case detail::Status::deleted:
          return {Errc::not_found, "soft-deleted"};
        case detail::Status::not_deleted:
          return {Errc::not_found, "not soft-deleted"};
        case detail::Status::conflict:
          return {Errc::conflict, ""};
        case detail::Status::exists:
          return {Errc::duplicate_key, ""};
        case detail::Status::unavailable:
          return {Errc::unavailable, nullptr};
        default:
          return {Errc::unknown_outcome, nullptr};
      }
    }();
    info.code = refusal.code;
    info.reason = refusal.reason != nullptr ? std::string(refusal.reason) : std::move(reason);
    return info;
  }

  Result<record_type> failure(const std::string& id, const Version& expected, detail::Status status,
                              std::string reason = {}) {
    if (status == detail::Status::absent || status == detail::Status::deleted ||
        status == detail::Status::not_deleted) {
      counters_.add(vkv::detail::Counter::not_found);
    }
    return Result<record_type>(info_of(id, expected, status, std::move(reason)));
  }

  void notify_conflict(const std::string& id, const Version& expected, const Version& actual) {
    counters_.add(vkv::detail::Counter::conflicts);
    if (options_.on_conflict) {
      options_.on_conflict(ConflictEvent{options_.entity_type, id, expected, actual});
    }
  }

  Result<record_type> to_result(const std::string& id, const Version& expected,
                                detail::Outcome&& outcome, detail::Op op = detail::Op::update) {
    switch (outcome.status) {
      case detail::Status::ok:
        counters_.add(op == detail::Op::create ||
                              (op == detail::Op::put && outcome.record->revision == 1)
                          ? vkv::detail::Counter::creates
                          : vkv::detail::Counter::writes);
        return decode(id, std::move(*outcome.record));
      case detail::Status::conflict: {
        record_type current = decode(id, std::move(*outcome.record));
        ErrorInfo info = info_of(id, expected, detail::Status::conflict);
        info.actual = current.version;
        notify_conflict(id, expected, current.version);
        return Result<record_type>(std::move(info), std::move(current));
      }
      default:
        return failure(id, expected, outcome.status, std::move(outcome.reason));
    }
  }

  Options options_;
  mutable detail::Client client_;
  mutable vkv::detail::StoreCounters counters_;
};

}  // namespace vkv::redis

#include "vkv/redis/detail/store_batch.hpp"  // IWYU pragma: export
