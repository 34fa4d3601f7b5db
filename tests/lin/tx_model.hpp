// The multi-key sequential model and checker of tests/commit/tx_lin_test.cpp and
// tests/commit/tx_attack_lin_test.cpp (tests only): a history of reads, single writes,
// creates, erases and commits over kKeys accounts, and a Wing & Gong search with
// Lowe's memoisation for a real-time-respecting order the model accepts, including
// WHICH entry a failed commit named. A key may be absent (erased): writes and commit
// entries on it fail as not found, a create of a present key fails as a duplicate.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>
#include <vkv/vkv.hpp>

namespace vkv_test::tx_lin {

constexpr int kKeys = 3;  // accounts per round
constexpr int kMaxEntries = kKeys;

using Balance = std::int64_t;
using TxStore = vkv::Store<Balance>;

// ---- the history ----

enum class Kind { read, write, transfer, snapshot, create, erase };

struct Op {
  Kind kind = Kind::read;
  std::uint64_t call = 0;  // invocation stamp
  std::uint64_t ret = 0;   // response stamp
  int entries = 0;         // read/write/create/erase: 1; transfer: 2; snapshot: kKeys
  std::array<int, kMaxEntries> keys{};
  std::array<vkv::Version, kMaxEntries> expected{};  // write/transfer/snapshot: as named
  std::array<Balance, kMaxEntries> values{};         // write/transfer/create: new values
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
  bool present = true;  // false once erased (until created again)
  friend bool operator==(const Cell&, const Cell&) = default;
};
using State = std::array<Cell, kKeys>;

// ---- the sequential model ----

// The state after `op` if the model, in `state`, gives exactly op's recorded response.
inline std::optional<State> step(const State& state, const Op& op) {
  State next = state;
  auto failed_as = [&](vkv::Errc code) {
    return !op.ok && op.code == code ? std::optional<State>(next) : std::nullopt;
  };
  switch (op.kind) {
    case Kind::read: {
      const Cell& cell = state[static_cast<std::size_t>(op.keys[0])];
      if (!cell.present) return op.ok ? std::nullopt : std::optional<State>(next);
      if (!op.ok || op.out_versions[0] != cell.version || op.out_values[0] != cell.value) {
        return std::nullopt;
      }
      return next;
    }
    case Kind::write: {
      Cell& cell = next[static_cast<std::size_t>(op.keys[0])];
      if (!cell.present) return failed_as(vkv::Errc::not_found);
      const bool match = cell.version == op.expected[0];
      if (match != op.ok) return std::nullopt;
      if (!op.ok) return failed_as(vkv::Errc::conflict);
      cell = Cell{op.out_versions[0], op.values[0]};
      return next;
    }
    case Kind::create: {
      Cell& cell = next[static_cast<std::size_t>(op.keys[0])];
      if (cell.present) return failed_as(vkv::Errc::duplicate_key);
      if (!op.ok) return std::nullopt;
      cell = Cell{op.out_versions[0], op.values[0]};
      return next;
    }
    case Kind::erase: {
      Cell& cell = next[static_cast<std::size_t>(op.keys[0])];
      if (!cell.present) return failed_as(vkv::Errc::not_found);
      const bool match = cell.version == op.expected[0];
      if (match != op.ok) return std::nullopt;
      if (!op.ok) return failed_as(vkv::Errc::conflict);
      cell = Cell{vkv::Version(), 0, false};
      return next;
    }
    case Kind::transfer:
    case Kind::snapshot: {
      // The first entry, in the transaction's order, whose version does not match (or
      // whose key is absent: not found).
      int first_failing = -1;
      vkv::Errc code = vkv::Errc::conflict;
      for (int i = 0; i < op.entries; ++i) {
        const Cell& cell = state[static_cast<std::size_t>(op.keys[static_cast<std::size_t>(i)])];
        if (!cell.present || cell.version != op.expected[static_cast<std::size_t>(i)]) {
          first_failing = i;
          code = cell.present ? vkv::Errc::conflict : vkv::Errc::not_found;
          break;
        }
      }
      if (first_failing >= 0) {
        if (op.ok || op.failed_entry != first_failing || op.code != code) return std::nullopt;
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
      h = h * 1099511628211ULL ^ static_cast<std::size_t>(c.present);
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

inline std::string describe(const std::vector<Op>& ops) {
  static const char* const kinds[] = {"read", "write", "transfer", "snapshot", "create", "erase"};
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
inline void perturb(std::mt19937_64& rng) {
  if (rng() % 2 == 0) std::this_thread::yield();
}

// Account k's key, padded to `length` characters (never shortened) with a fill of its
// own: 0 keeps the short name, inside std::string's small buffer; 16, 36 (a UUID) and
// 120 own heap memory (tests/support/stress.hpp, kKeyLengths).
inline std::string account(int k, std::size_t length = 0) {
  std::string key = "lin-account-" + std::to_string(k);
  if (key.size() < length) key.resize(length, static_cast<char>('a' + k % 26));
  return key;
}

class Recorder {
 public:
  // Records operations on the accounts whose keys have `key_length` characters.
  Recorder(TxStore& store, std::atomic<std::uint64_t>& clock, std::size_t key_length = 0)
      : store_(store), clock_(clock), key_length_(key_length) {}

  std::optional<TxStore::record_type> read(int k) {
    Op op;
    op.kind = Kind::read;
    op.entries = 1;
    op.keys[0] = k;
    op.call = stamp();
    auto rec = store_.find(key(k));
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
    auto result = store_.try_update_with_version(key(k), expected, value);
    op.ret = stamp();
    op.ok = result.ok();
    if (op.ok) {
      op.out_versions[0] = result.value().version;
    } else {
      op.code = result.error();
    }
    ops_.push_back(op);
  }

  void create(int k, Balance value) {
    Op op;
    op.kind = Kind::create;
    op.entries = 1;
    op.keys[0] = k;
    op.values[0] = value;
    op.call = stamp();
    auto result = store_.try_create(key(k), value);
    op.ret = stamp();
    op.ok = result.ok();
    if (op.ok) {
      op.out_versions[0] = result.value().version;
    } else {
      op.code = result.error();
    }
    ops_.push_back(op);
  }

  bool erase(int k, const vkv::Version& expected) {
    Op op;
    op.kind = Kind::erase;
    op.entries = 1;
    op.keys[0] = k;
    op.expected[0] = expected;
    op.call = stamp();
    auto result = store_.try_erase(key(k), expected);
    op.ret = stamp();
    op.ok = result.ok();
    if (!op.ok) op.code = result.error();
    ops_.push_back(op);
    return op.ok;
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
        tx.update(key(keys[i]), expected[i], values[i]);
      } else {
        tx.check(key(keys[i]), expected[i]);
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
        if (result.error_info().entity_id == key(keys[i])) op.failed_entry = static_cast<int>(i);
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

  std::string key(int k) const { return account(k, key_length_); }

  TxStore& store_;
  std::atomic<std::uint64_t>& clock_;
  std::size_t key_length_;
  std::vector<Op> ops_;
};

}  // namespace vkv_test::tx_lin
