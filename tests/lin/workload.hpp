// Random concurrent workload that records a history for the linearizability checker
// (tests only).
//
// Threads run random operations on a few hot keys; each call is stamped with a global
// logical clock before it is invoked and after it returns. Many short rounds, each on
// fresh keys, keep every per-key history short enough for the exhaustive search while
// the total number of checked operations stays large.
#pragma once

#include <time.h>

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <vkv/vkv.hpp>

#include "lin/checker.hpp"

namespace vkv_test::lin {

using LinStore = vkv::Store<Value>;

struct WorkloadConfig {
  int threads = 4;
  int ops_per_thread = 8;  // per round
  int keys = 2;            // hot keys per round
  int rounds = 100;
  std::uint64_t seed = 1;
  // Key lengths, one per round in turn (realistic inputs): 0 = the short name
  // alone (inside std::string's 15-character buffer), 16, 36 (a UUID), 120. Keys past
  // 15 characters own heap memory; every run checks both kinds at no extra cost.
  std::vector<std::size_t> key_lengths{0, 16, 36, 120};
  // A remote store (vkv::redis): Errc::unavailable and Errc::unknown_outcome are recorded
  // in RawOp::remote_error (lin/unknown_outcomes.hpp resolves them). Off, as for the
  // in-process store: they are contract violations and the workload throws.
  bool remote = false;
};

// One recorded call, versions still as the store issued them.
struct RawRec {
  Value value;
  vkv::Version version;
  std::uint64_t revision = 0;
  bool deleted = false;
};

struct RawOp {
  int round = 0;
  int key = 0;
  int client = 0;
  OpKind kind = OpKind::find;
  Value value;
  vkv::Version expected;
  bool include_deleted = false;
  Outcome outcome = Outcome::ok;
  std::optional<RawRec> record;
  std::optional<RawRec> current;
  std::optional<vkv::Version> actual;
  std::uint64_t call = 0;
  std::uint64_t ret = 0;
  // Set when an error object contradicts the call (wrong code, id, expected version):
  // a contract violation that the register model cannot see.
  const char* anomaly = nullptr;
  // Remote stores only (WorkloadConfig::remote): the call reported unavailable or
  // unknown_outcome; `outcome` and the records are then meaningless.
  std::optional<vkv::Errc> remote_error;
};

// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so that
// histories recorded by several processes share one real-time order.
inline std::uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

template <class R>
RawRec raw(const R& r) {
  return RawRec{r.value, r.version, r.revision, r.deleted};
}

// The key `key` of round `round`, padded to `length` characters (never shortened).
inline std::string key_name(int round, int key, std::size_t length = 0) {
  std::string name = "r" + std::to_string(round) + "k" + std::to_string(key);
  if (name.size() < length) name.resize(length, '~');
  return name;
}

inline std::size_t key_length(const WorkloadConfig& cfg, int round) {
  if (cfg.key_lengths.empty()) return 0;
  return cfg.key_lengths[static_cast<std::size_t>(round) % cfg.key_lengths.size()];
}

namespace detail {

// Runs one client's operations for one round. Knows only what its own responses told
// it, like a real client: expected versions come from those.
template <class S>
class Client {
 public:
  Client(S& store, std::atomic<std::uint64_t>& clock, int id, std::uint64_t seed)
      : store_(store), clock_(&clock), id_(id), rng_(seed) {}
  // Stamps calls with monotonic_ns() instead of a shared counter (clients in several
  // processes).
  Client(S& store, int id, std::uint64_t seed)
      : store_(store), clock_(nullptr), id_(id), rng_(seed) {}

  void run_round(int round, const WorkloadConfig& cfg, std::vector<RawOp>& out) {
    remote_ = cfg.remote;
    known_.assign(static_cast<std::size_t>(cfg.keys), {});
    key_length_ = key_length(cfg, round);
    for (int i = 0; i < cfg.ops_per_thread; ++i) {
      const int key = static_cast<int>(rng_() % static_cast<unsigned>(cfg.keys));
      out.push_back(one_op(round, key, i));
    }
  }

 private:
  bool coin(unsigned percent) { return rng_() % 100 < percent; }

  vkv::Version pick_expected(int key) {
    const std::vector<vkv::Version>& seen = known_[static_cast<std::size_t>(key)];
    if (seen.empty() || coin(5)) return vkv::Version{};
    if (coin(80)) return seen.back();
    return seen[rng_() % seen.size()];  // possibly stale
  }

  void learn(int key, const std::optional<RawRec>& r) {
    if (r) known_[static_cast<std::size_t>(key)].push_back(r->version);
  }

  template <class Res>
  void from_result(RawOp& op, Res&& res) {
    if (res.ok()) {
      op.outcome = Outcome::ok;
      op.record = raw(res.value());
      return;
    }
    switch (res.error()) {
      case vkv::Errc::not_found:
        op.outcome = Outcome::not_found;
        break;
      case vkv::Errc::conflict:
        op.outcome = Outcome::conflict;
        if (res.current()) op.current = raw(*res.current());
        break;
      case vkv::Errc::duplicate_key:
        op.outcome = Outcome::duplicate;
        break;
      case vkv::Errc::unavailable:
      case vkv::Errc::unknown_outcome:
        // Only remote stores report these; for the in-process store they are a bug.
        if (!remote_) {
          throw std::logic_error(std::string("lin workload: unexpected ") +
                                 vkv::errc_name(res.error()));
        }
        op.remote_error = res.error();
        break;
    }
  }

  // Remote stores: a throwing call's unavailable / unknown outcome, recorded.
  void remote_failure(RawOp& op, const vkv::Error& e) {
    if (!remote_) throw;  // rethrows the exception being handled: strict in-process
    op.remote_error = e.code();
  }

  template <class F>
  void throwing(RawOp& op, const std::string& key, F&& f) {
    try {
      f();
      op.outcome = Outcome::ok;
    } catch (const vkv::OptimisticLockError& e) {
      op.outcome = Outcome::conflict;
      op.actual = e.actual_version();
      if (e.code() != vkv::Errc::conflict || e.entity_id() != key ||
          e.expected_version() != op.expected) {
        op.anomaly = "OptimisticLockError fields do not match the call";
      }
    } catch (const vkv::EntityNotFoundError& e) {
      op.outcome = Outcome::not_found;
      if (e.code() != vkv::Errc::not_found || e.entity_id() != key) {
        op.anomaly = "EntityNotFoundError fields do not match the call";
      }
    } catch (const vkv::DuplicateKeyError& e) {
      op.outcome = Outcome::duplicate;
      if (e.code() != vkv::Errc::duplicate_key || e.entity_id() != key) {
        op.anomaly = "DuplicateKeyError fields do not match the call";
      }
    } catch (const vkv::UnavailableError& e) {
      remote_failure(op, e);
    } catch (const vkv::UnknownOutcomeError& e) {
      remote_failure(op, e);
    }
  }

  std::uint64_t stamp() {
    // acq_rel: a call stamped after another's return then happens after that return
    // (both are RMWs on one atomic), which is the real-time order the checker needs.
    return clock_ ? clock_->fetch_add(1, std::memory_order_acq_rel) : monotonic_ns();
  }

  RawOp one_op(int round, int key, int seq) {
    RawOp op;
    op.round = round;
    op.key = key;
    op.client = id_;
    const std::string name = key_name(round, key, key_length_);
    // Unique and a != b, so a swapped or stale value is always visible.
    const std::int64_t unique = (std::int64_t{round} << 24) | (std::int64_t{id_} << 12) | seq;
    op.value = Value{unique + 1, -unique - 7};
    const bool use_try = coin(50);
    const unsigned pick = static_cast<unsigned>(rng_() % 100);
    vkv::WriteOptions wopts;
    const auto mutate = [](Value& v) { v = patched(v); };

    op.kind = pick < 12   ? OpKind::create
              : pick < 40 ? OpKind::find
              : pick < 58 ? OpKind::update
              : pick < 70 ? OpKind::patch
              : pick < 81 ? OpKind::soft_delete
              : pick < 91 ? OpKind::restore
                          : OpKind::erase;
    if (op.kind != OpKind::create && op.kind != OpKind::find) op.expected = pick_expected(key);
    if (op.kind == OpKind::find || op.kind == OpKind::update || op.kind == OpKind::patch) {
      op.include_deleted = coin(30);
      wopts.include_soft_deleted = op.include_deleted;
    }

    op.call = stamp();
    // Sometimes give the CPU away inside the call's interval, so that calls overlap
    // even on a loaded two-core machine where the threads rarely run in parallel. A
    // wider interval only admits more orders; the store must still explain them.
    const bool yield_inside = coin(25);
    if (yield_inside) std::this_thread::yield();
    switch (op.kind) {
      case OpKind::create:
        if (use_try) {
          from_result(op, store_.try_create(name, op.value));
        } else {
          throwing(op, name, [&] { op.record = raw(store_.create(name, op.value)); });
        }
        break;
      case OpKind::find:
        try {
          find(op, name, use_try);
        } catch (const vkv::UnavailableError& e) {
          remote_failure(op, e);
        }
        break;
      case OpKind::update:
        if (use_try) {
          from_result(op, store_.try_update_with_version(name, op.expected, op.value, wopts));
        } else {
          throwing(op, name, [&] {
            op.record = raw(store_.update_with_version(name, op.expected, op.value, wopts));
          });
        }
        break;
      case OpKind::patch:
        if (use_try) {
          from_result(op, store_.try_patch_with_version(name, op.expected, mutate, wopts));
        } else {
          throwing(op, name, [&] {
            op.record = raw(store_.patch_with_version(name, op.expected, mutate, wopts));
          });
        }
        break;
      case OpKind::soft_delete:
        if (use_try) {
          from_result(op, store_.try_soft_delete(name, op.expected));
        } else {
          throwing(op, name, [&] { op.record = raw(store_.soft_delete(name, op.expected)); });
        }
        break;
      case OpKind::restore:
        if (use_try) {
          from_result(op, store_.try_restore(name, op.expected));
        } else {
          throwing(op, name, [&] { op.record = raw(store_.restore(name, op.expected)); });
        }
        break;
      case OpKind::erase:
        if (use_try) {
          from_result(op, store_.try_erase(name, op.expected));
        } else {
          throwing(op, name, [&] { store_.erase(name, op.expected); });
        }
        break;
    }
    if (yield_inside) std::this_thread::yield();
    op.ret = stamp();

    learn(key, op.record);
    learn(key, op.current);
    if (op.actual) known_[static_cast<std::size_t>(key)].push_back(*op.actual);
    return op;
  }

  void find(RawOp& op, const std::string& name, bool use_try) {
    if (use_try) {
      // The zero-copy read: the same answer, through visit().
      const bool found = store_.visit(
          name,
          [&](const auto& view) {
            op.record = raw(typename S::record_type{view.id, view.value, view.version,
                                                    view.revision, view.deleted, view.expires_at});
          },
          vkv::ReadOptions{op.include_deleted});
      op.outcome = found ? Outcome::ok : Outcome::not_found;
    } else {
      const auto r = store_.find(name, vkv::ReadOptions{op.include_deleted});
      op.outcome = r ? Outcome::ok : Outcome::not_found;
      if (r) op.record = raw(*r);
    }
  }

  S& store_;
  std::atomic<std::uint64_t>* clock_;  // nullptr: monotonic_ns()
  bool remote_ = false;
  std::size_t key_length_ = 0;  // this round's (WorkloadConfig::key_lengths)
  int id_;
  std::mt19937_64 rng_;
  std::vector<std::vector<vkv::Version>> known_;
};

}  // namespace detail

// Runs cfg.rounds rounds; in each, cfg.threads threads start together (barrier) and
// each runs cfg.ops_per_thread operations on cfg.keys fresh keys. Returns every call.
template <class S>
std::vector<RawOp> run_workload(S& store, const WorkloadConfig& cfg) {
  std::atomic<std::uint64_t> clock{1};
  std::barrier start(cfg.threads);
  std::atomic<int> awake{0};
  std::vector<std::vector<RawOp>> per_thread(static_cast<std::size_t>(cfg.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back([&, t] {
      detail::Client<S> client(store, clock, t, cfg.seed * 7919 + static_cast<std::uint64_t>(t));
      std::vector<RawOp>& out = per_thread[static_cast<std::size_t>(t)];
      out.reserve(static_cast<std::size_t>(cfg.rounds * cfg.ops_per_thread));
      for (int round = 0; round < cfg.rounds; ++round) {
        start.arrive_and_wait();
        // The barrier wakes threads one by one, and a woken thread could finish its
        // few operations before the next is scheduled: then nothing overlaps. So every
        // thread also waits, yielding, until all are awake. acq_rel/acquire: only the
        // count matters, but the gate must not be reordered with the round's calls.
        awake.fetch_add(1, std::memory_order_acq_rel);
        const int all_awake = cfg.threads * (round + 1);
        while (awake.load(std::memory_order_acquire) < all_awake) std::this_thread::yield();
        client.run_round(round, cfg, out);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<RawOp> all;
  for (std::vector<RawOp>& ops : per_thread) all.insert(all.end(), ops.begin(), ops.end());
  return all;
}

// Turns recorded operations into checker operations, naming versions by small numbers
// (0 = nil) in the order first seen. One namer per run, so that a version keeps its
// number across the run's histories.
class OperationNamer {
 public:
  OperationNamer() { ids_.emplace(vkv::Version{}, 0); }

  // The call: client, input and times; the output is left to complete().
  Operation call(const RawOp& raw_op) {
    Operation op;
    op.client = raw_op.client;
    op.input = Input{raw_op.kind, raw_op.value, id_of(raw_op.expected), raw_op.include_deleted};
    op.call = raw_op.call;
    op.ret = raw_op.ret;
    return op;
  }

  // The output of an operation that returned (no remote error).
  void complete(const RawOp& raw_op, Operation& op) {
    op.output.outcome = raw_op.outcome;
    op.output.record = rec(raw_op.record);
    op.output.current = rec(raw_op.current);
    if (raw_op.actual) op.output.actual = id_of(*raw_op.actual);
  }

 private:
  VersionId id_of(const vkv::Version& v) {
    return ids_.emplace(v, static_cast<VersionId>(ids_.size())).first->second;
  }
  std::optional<Rec> rec(const std::optional<RawRec>& r) {
    if (!r) return std::nullopt;
    return Rec{r->value, id_of(r->version), r->revision, r->deleted};
  }

  std::unordered_map<vkv::Version, VersionId> ids_;
};

// Splits a recorded run into one checker history per (round, key).
inline std::vector<std::vector<Operation>> per_key_histories(const std::vector<RawOp>& all,
                                                             const WorkloadConfig& cfg) {
  OperationNamer names;
  std::vector<std::vector<Operation>> histories(static_cast<std::size_t>(cfg.rounds * cfg.keys));
  for (const RawOp& raw_op : all) {
    if (raw_op.remote_error) {
      throw std::logic_error(
          "per_key_histories: a remote error in the history; use "
          "lin/unknown_outcomes.hpp");
    }
    Operation op = names.call(raw_op);
    names.complete(raw_op, op);
    histories[static_cast<std::size_t>(raw_op.round * cfg.keys + raw_op.key)].push_back(op);
  }
  return histories;
}

}  // namespace vkv_test::lin
