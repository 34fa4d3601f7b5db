// Linearizability of the atomic multi-record commit, checked against a sequential
// multi-key model.
//
// Threads run transfers (reads of two accounts, then a 2-key update transaction),
// validated snapshots (reads of every account, then a transaction of checks) and
// single-key read-then-write updates on the same few accounts. Every operation (each
// find, each commit, each single write) is recorded with invocation and response
// stamps from one shared counter. A small Wing & Gong search with Lowe's memoisation
// then looks for a sequential order that respects real time and in which the model
// produces every recorded response, including WHICH entry a failed commit named.
// Many short rounds keep each search small.
//
// The checker is self-contained (tests/lin/checker.hpp is a one-record model); the
// negative tests feed it broken histories it must reject.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <latch>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>
#include <vkv/vkv.hpp>

#include "stress/common.hpp"

namespace {

constexpr int kKeys = 3;  // accounts per round
constexpr int kMaxEntries = kKeys;

using Balance = std::int64_t;
using TxStore = vkv::Store<Balance>;

// ---- the history ----

enum class Kind { read, write, transfer, snapshot };

struct Op {
  Kind kind = Kind::read;
  std::uint64_t call = 0;  // invocation stamp
  std::uint64_t ret = 0;   // response stamp
  int entries = 0;         // read/write: 1; transfer: 2; snapshot: kKeys
  std::array<int, kMaxEntries> keys{};
  std::array<vkv::Version, kMaxEntries> expected{};  // write/transfer/snapshot: as named
  std::array<Balance, kMaxEntries> values{};         // write/transfer: the new values
  // Response.
  bool ok = false;
  std::array<vkv::Version, kMaxEntries> out_versions{};  // read/write/transfer/snapshot
  std::array<Balance, kMaxEntries> out_values{};         // read, snapshot (as checked)
  int failed_entry = -1;                                 // failed commit: the entry named
  vkv::Errc code = vkv::Errc::conflict;
};

struct Cell {
  vkv::Version version;
  Balance value = 0;
  friend bool operator==(const Cell&, const Cell&) = default;
};
using State = std::array<Cell, kKeys>;

// ---- the sequential model ----

// The state after `op` if the model, in `state`, gives exactly op's recorded response.
std::optional<State> step(const State& state, const Op& op) {
  State next = state;
  switch (op.kind) {
    case Kind::read: {
      const Cell& cell = state[static_cast<std::size_t>(op.keys[0])];
      if (!op.ok || op.out_versions[0] != cell.version || op.out_values[0] != cell.value) {
        return std::nullopt;
      }
      return next;
    }
    case Kind::write: {
      Cell& cell = next[static_cast<std::size_t>(op.keys[0])];
      const bool match = cell.version == op.expected[0];
      if (match != op.ok) return std::nullopt;
      if (!op.ok) return op.code == vkv::Errc::conflict ? std::optional<State>(next) : std::nullopt;
      cell = Cell{op.out_versions[0], op.values[0]};
      return next;
    }
    case Kind::transfer:
    case Kind::snapshot: {
      // The first entry, in the transaction's order, whose version does not match.
      int first_failing = -1;
      for (int i = 0; i < op.entries; ++i) {
        if (state[static_cast<std::size_t>(op.keys[static_cast<std::size_t>(i)])].version !=
            op.expected[static_cast<std::size_t>(i)]) {
          first_failing = i;
          break;
        }
      }
      if (first_failing >= 0) {
        if (op.ok || op.failed_entry != first_failing || op.code != vkv::Errc::conflict) {
          return std::nullopt;
        }
        return next;  // nothing changed
      }
      if (!op.ok) return std::nullopt;
      for (int i = 0; i < op.entries; ++i) {
        const auto e = static_cast<std::size_t>(i);
        Cell& cell = next[static_cast<std::size_t>(op.keys[e])];
        if (op.kind == Kind::snapshot) {
          // Checks return the records as checked.
          if (op.out_versions[e] != cell.version || op.out_values[e] != cell.value) {
            return std::nullopt;
          }
        } else {
          cell = Cell{op.out_versions[e], op.values[e]};
        }
      }
      return next;
    }
  }
  return std::nullopt;
}

// ---- the search (Wing & Gong, with Lowe's memoisation of (linearized set, state)) ----

struct MemoKey {
  std::uint64_t done;
  State state;
  friend bool operator==(const MemoKey&, const MemoKey&) = default;
};
struct MemoHash {
  std::size_t operator()(const MemoKey& k) const {
    std::size_t h = std::hash<std::uint64_t>()(k.done);
    for (const Cell& c : k.state) {
      h = h * 1099511628211ULL ^ std::hash<vkv::Version>()(c.version);
      h = h * 1099511628211ULL ^ std::hash<Balance>()(c.value);
    }
    return h;
  }
};

class Checker {
 public:
  Checker(const std::vector<Op>& ops, State initial) : ops_(ops), initial_(initial) {}

  // True if some real-time-respecting order of all ops is accepted by the model.
  bool linearizable() {
    if (ops_.size() > 64) throw std::invalid_argument("history too long for the checker");
    all_ = ops_.size() == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << ops_.size()) - 1;
    return search(0, initial_);
  }
  std::size_t explored() const { return memo_.size(); }

 private:
  bool search(std::uint64_t done, const State& state) {
    if (done == all_) return true;
    if (memo_.count(MemoKey{done, state}) != 0) return false;
    // An op may go next only if it was invoked before every pending op responded.
    std::uint64_t min_ret = ~std::uint64_t{0};
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if ((done >> i & 1) == 0 && ops_[i].ret < min_ret) min_ret = ops_[i].ret;
    }
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if ((done >> i & 1) != 0 || ops_[i].call > min_ret) continue;
      if (auto next = step(state, ops_[i])) {
        if (search(done | std::uint64_t{1} << i, *next)) return true;
      }
    }
    memo_.insert(MemoKey{done, state});
    return false;
  }

  const std::vector<Op>& ops_;
  State initial_;
  std::uint64_t all_ = 0;
  std::unordered_set<MemoKey, MemoHash> memo_;
};

std::string describe(const std::vector<Op>& ops) {
  static const char* const kinds[] = {"read", "write", "transfer", "snapshot"};
  std::ostringstream out;
  for (const Op& op : ops) {
    out << "[" << op.call << "," << op.ret << "] " << kinds[static_cast<int>(op.kind)];
    for (int i = 0; i < op.entries; ++i) {
      const auto e = static_cast<std::size_t>(i);
      out << " k" << op.keys[e] << "@" << op.expected[e].to_string().substr(0, 8) << "->"
          << op.values[e] << "/" << op.out_versions[e].to_string().substr(0, 8) << "="
          << op.out_values[e];
    }
    out << (op.ok ? " ok" : " FAIL entry " + std::to_string(op.failed_entry)) << "\n";
  }
  return out.str();
}

// ---- recording against the real store ----

// On two cores, threads that never give up the CPU between a read and the commit
// built from it rarely overlap; yielding there at random (a scheduling hint, not
// synchronisation: the checker does not depend on it) makes stale reads and failed
// commits common.
void perturb(std::mt19937_64& rng) {
  if (rng() % 2 == 0) std::this_thread::yield();
}

std::string account(int k) { return "lin-account-" + std::to_string(k); }

class Recorder {
 public:
  Recorder(TxStore& store, std::atomic<std::uint64_t>& clock) : store_(store), clock_(clock) {}

  std::optional<TxStore::record_type> read(int k) {
    Op op;
    op.kind = Kind::read;
    op.entries = 1;
    op.keys[0] = k;
    op.call = stamp();
    auto rec = store_.find(account(k));
    op.ret = stamp();
    op.ok = rec.has_value();
    if (rec) {
      op.out_versions[0] = rec->version;
      op.out_values[0] = rec->value;
    }
    ops_.push_back(op);
    return rec;
  }

  void write(int k, const vkv::Version& expected, Balance value) {
    Op op;
    op.kind = Kind::write;
    op.entries = 1;
    op.keys[0] = k;
    op.expected[0] = expected;
    op.values[0] = value;
    op.call = stamp();
    auto result = store_.try_update_with_version(account(k), expected, value);
    op.ret = stamp();
    op.ok = result.ok();
    if (op.ok) {
      op.out_versions[0] = result.value().version;
    } else {
      op.code = result.error();
    }
    ops_.push_back(op);
  }

  // A transaction: updates (transfer) or checks (snapshot) of `keys`.
  void commit(Kind kind, const std::vector<int>& keys, const std::vector<vkv::Version>& expected,
              const std::vector<Balance>& values) {
    Op op;
    op.kind = kind;
    op.entries = static_cast<int>(keys.size());
    vkv::Transaction<Balance> tx;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      op.keys[i] = keys[i];
      op.expected[i] = expected[i];
      if (kind == Kind::transfer) {
        op.values[i] = values[i];
        tx.update(account(keys[i]), expected[i], values[i]);
      } else {
        tx.check(account(keys[i]), expected[i]);
      }
    }
    op.call = stamp();
    auto result = store_.try_commit(tx);
    op.ret = stamp();
    op.ok = result.ok();
    if (op.ok) {
      for (std::size_t i = 0; i < keys.size(); ++i) {
        op.out_versions[i] = result.value()[i].version;
        op.out_values[i] = result.value()[i].value;
      }
    } else {
      op.code = result.error();
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if (result.error_info().entity_id == account(keys[i]))
          op.failed_entry = static_cast<int>(i);
      }
    }
    ops_.push_back(op);
  }

  std::vector<Op>& ops() { return ops_; }

 private:
  std::uint64_t stamp() {
    // acq_rel: one modification order for every stamp; a response stamped before an
    // invocation stamp happens-before that invocation (real-time order).
    return clock_.fetch_add(1, std::memory_order_acq_rel);
  }

  TxStore& store_;
  std::atomic<std::uint64_t>& clock_;
  std::vector<Op> ops_;
};

TEST(TxLinearizability, TransfersSnapshotsAndSingleWritesAreLinearizable) {
  // ~1 s normally; sanitized builds pay mostly for starting 4 threads per round.
  const std::int64_t rounds = vkv_test::scaled(1500, 15);
  TxStore store;
  for (int k = 0; k < kKeys; ++k) store.create(account(k), 100);
  std::atomic<std::uint64_t> clock{0};
  std::int64_t commits_ok = 0, commits_failed = 0, failed_named_later_entry = 0;
  std::size_t total_ops = 0;
  std::size_t max_explored = 0;  // dead ends memoised in the hardest round

  for (std::int64_t round = 0; round < rounds; ++round) {
    // The initial state of the round, read while no thread runs.
    State initial;
    for (int k = 0; k < kKeys; ++k) {
      const auto rec = store.find(account(k));
      ASSERT_TRUE(rec.has_value());
      initial[static_cast<std::size_t>(k)] = Cell{rec->version, rec->value};
    }
    constexpr int kThreads = 4;
    std::vector<Recorder> recorders;
    recorders.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) recorders.emplace_back(store, clock);
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(static_cast<std::uint64_t>(round) * 131 +
                            static_cast<std::uint64_t>(t));
        Recorder& rec = recorders[static_cast<std::size_t>(t)];
        start.arrive_and_wait();
        if (t < 2) {  // transfers: read two accounts, move an amount between them
          for (int i = 0; i < 3; ++i) {
            const int from = static_cast<int>(rng() % kKeys);
            const int to = (from + 1 + static_cast<int>(rng() % (kKeys - 1))) % kKeys;
            const auto a = rec.read(from);
            perturb(rng);
            const auto b = rec.read(to);
            if (!a || !b) return;
            perturb(rng);
            const Balance amount = static_cast<Balance>(rng() % 10) + 1;
            rec.commit(Kind::transfer, {from, to}, {a->version, b->version},
                       {a->value - amount, b->value + amount});
          }
        } else if (t == 2) {  // validated snapshots: read all, commit checks of what was read
          for (int i = 0; i < 2; ++i) {
            std::vector<int> keys;
            std::vector<vkv::Version> versions;
            // Read in a rotating order: the transaction's order decides the named entry.
            for (int j = 0; j < kKeys; ++j) {
              const int k = (j + i) % kKeys;
              const auto r = rec.read(k);
              if (!r) return;
              keys.push_back(k);
              versions.push_back(r->version);
              perturb(rng);
            }
            rec.commit(Kind::snapshot, keys, versions, {});
          }
        } else {  // single-key read-then-write
          for (int i = 0; i < 4; ++i) {
            const int k = static_cast<int>(rng() % kKeys);
            const auto r = rec.read(k);
            if (!r) return;
            perturb(rng);
            rec.write(k, r->version, r->value + 1000);
          }
        }
      });
    }
    for (auto& th : threads) th.join();

    std::vector<Op> history;
    for (auto& r : recorders) {
      for (const Op& op : r.ops()) history.push_back(op);
    }
    for (const Op& op : history) {
      if (op.kind == Kind::transfer || op.kind == Kind::snapshot) {
        if (op.ok) {
          ++commits_ok;
        } else {
          ++commits_failed;
          ASSERT_GE(op.failed_entry, 0) << "a failed commit named no entry of its own";
          if (op.failed_entry > 0) ++failed_named_later_entry;
        }
      }
    }
    total_ops += history.size();
    Checker checker(history, initial);
    ASSERT_TRUE(checker.linearizable()) << "round " << round << " is not linearizable:\n"
                                        << describe(history);
    if (checker.explored() > max_explored) max_explored = checker.explored();
  }
  // The rounds must have exercised both outcomes, or they tested little.
  EXPECT_GT(commits_ok, 0);
  EXPECT_GT(total_ops, 0u);
  RecordProperty("max_memoised_dead_ends", static_cast<int>(max_explored));
  RecordProperty("commits_ok", static_cast<int>(commits_ok));
  RecordProperty("commits_failed", static_cast<int>(commits_failed));
  RecordProperty("failed_naming_a_later_entry", static_cast<int>(failed_named_later_entry));
}

// ---- the checker must be able to say no ----

class HistoryBuilder {
 public:
  HistoryBuilder() {
    for (int k = 0; k < kKeys; ++k) {
      initial_[static_cast<std::size_t>(k)] = Cell{fresh(), 100};
    }
  }
  static vkv::Version fresh() {
    static std::uint8_t counter = 0;
    boost::uuids::uuid id{};
    id.data[15] = ++counter;
    id.data[0] = 0x42;
    return vkv::Version(id);
  }
  const State& initial() const { return initial_; }
  Op transfer(std::uint64_t call, std::uint64_t ret, int from, int to, const vkv::Version& vf,
              const vkv::Version& vt, Balance f, Balance t, bool ok, int failed = -1) {
    Op op;
    op.kind = Kind::transfer;
    op.call = call;
    op.ret = ret;
    op.entries = 2;
    op.keys = {from, to, 0};
    op.expected = {vf, vt, vkv::Version()};
    op.values = {f, t, 0};
    op.ok = ok;
    op.failed_entry = failed;
    if (ok) op.out_versions = {fresh(), fresh(), vkv::Version()};
    return op;
  }
  Op snapshot(std::uint64_t call, std::uint64_t ret, const State& seen, bool ok, int failed = -1) {
    Op op;
    op.kind = Kind::snapshot;
    op.call = call;
    op.ret = ret;
    op.entries = kKeys;
    for (int k = 0; k < kKeys; ++k) {
      const auto e = static_cast<std::size_t>(k);
      op.keys[e] = k;
      op.expected[e] = seen[e].version;
      if (ok) {
        op.out_versions[e] = seen[e].version;
        op.out_values[e] = seen[e].value;
      }
    }
    op.ok = ok;
    op.failed_entry = failed;
    return op;
  }

 private:
  State initial_;
};

TEST(TxLinearizabilityChecker, AcceptsAValidConcurrentHistory) {
  HistoryBuilder h;
  const State s0 = h.initial();
  // Two transfers sharing account 1, the second after the first (it names the
  // first's new version).
  Op t1 = h.transfer(0, 5, 0, 1, s0[0].version, s0[1].version, 90, 110, true);
  State s1 = s0;
  s1[0] = Cell{t1.out_versions[0], 90};
  s1[1] = Cell{t1.out_versions[1], 110};
  Op t2 = h.transfer(6, 9, 1, 2, s1[1].version, s0[2].version, 100, 110, true);
  // A snapshot overlapping t2 that saw the state before t2: valid (linearized first).
  Op snap = h.snapshot(4, 10, s1, true);
  // A concurrent stale transfer that failed on its first entry.
  Op stale = h.transfer(1, 8, 0, 2, s0[0].version, s0[2].version, 0, 0, false, 0);
  std::vector<Op> ops{t1, t2, snap, stale};
  Checker checker(ops, s0);
  EXPECT_TRUE(checker.linearizable()) << describe(ops);
}

TEST(TxLinearizabilityChecker, RejectsASnapshotWithAnInconsistentSum) {
  HistoryBuilder h;
  const State s0 = h.initial();
  Op t1 = h.transfer(0, 1, 0, 1, s0[0].version, s0[1].version, 50, 150, true);
  // After t1 completed, a snapshot that validates the OLD version of account 0 with
  // the NEW version of account 1 (sum 250 instead of 300): no such state existed.
  State torn = s0;
  torn[1] = Cell{t1.out_versions[1], 150};
  Op snap = h.snapshot(2, 3, torn, true);
  std::vector<Op> ops{t1, snap};
  Checker checker(ops, s0);
  EXPECT_FALSE(checker.linearizable());
  // Overlapping in time does not make it valid either.
  ops[1].call = 0;
  Checker overlapping(ops, s0);
  EXPECT_FALSE(overlapping.linearizable());
}

TEST(TxLinearizabilityChecker, RejectsALostTransfer) {
  HistoryBuilder h;
  const State s0 = h.initial();
  // Two concurrent transfers from the same versions both claim success: one of them
  // would have overwritten the other.
  Op t1 = h.transfer(0, 3, 0, 1, s0[0].version, s0[1].version, 90, 110, true);
  Op t2 = h.transfer(1, 2, 0, 2, s0[0].version, s0[2].version, 80, 120, true);
  std::vector<Op> ops{t1, t2};
  Checker checker(ops, s0);
  EXPECT_FALSE(checker.linearizable());
}

TEST(TxLinearizabilityChecker, RejectsAFailedCommitNamingAnEntryThatNeverFailedAlone) {
  // The bug fixed in Store::commit_attempt: tx = [check k0@v0, check k1@v1, ...]
  // overlaps a write of k0 followed by a write of k1, and reports a conflict on k1.
  // In every state the store passed through, either nothing failed or k0 did.
  HistoryBuilder h;
  const State s0 = h.initial();
  Op w0;
  w0.kind = Kind::write;
  w0.call = 1;
  w0.ret = 2;
  w0.entries = 1;
  w0.keys[0] = 0;
  w0.expected[0] = s0[0].version;
  w0.values[0] = 1;
  w0.ok = true;
  w0.out_versions[0] = HistoryBuilder::fresh();
  Op w1 = w0;
  w1.call = 3;
  w1.ret = 4;
  w1.keys[0] = 1;
  w1.expected[0] = s0[1].version;
  w1.out_versions[0] = HistoryBuilder::fresh();
  Op snap = h.snapshot(0, 5, s0, false, /*failed=*/1);
  std::vector<Op> ops{w0, w1, snap};
  Checker checker(ops, s0);
  EXPECT_FALSE(checker.linearizable());
  // Naming entry 0 is a valid answer.
  ops[2].failed_entry = 0;
  Checker fixed(ops, s0);
  EXPECT_TRUE(fixed.linearizable());
}

TEST(TxLinearizabilityChecker, RejectsAReadOfAValueNeverWritten) {
  HistoryBuilder h;
  const State s0 = h.initial();
  Op read;
  read.kind = Kind::read;
  read.call = 0;
  read.ret = 1;
  read.entries = 1;
  read.keys[0] = 2;
  read.ok = true;
  read.out_versions[0] = s0[2].version;
  read.out_values[0] = s0[2].value + 1;  // torn: right version, wrong value
  std::vector<Op> ops{read};
  Checker checker(ops, s0);
  EXPECT_FALSE(checker.linearizable());
}

}  // namespace
