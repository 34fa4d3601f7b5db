// A linearizability checker for one versioned record (tests only).
//
// Wing & Gong's search with Lowe's memoisation, as Porcupine implements it: the
// history's call and return events sit in one time-ordered linked list; the search
// repeatedly picks a call whose operation can take effect next (the model accepts its
// recorded response in the current state), lifts it and its return out of the list,
// and backtracks when it reaches a return whose call it could not linearize. A set of
// (linearized operations, model state) pairs already explored prunes the search: two
// paths that linearized the same operations into the same state have the same future.
//
// The model is the versioned register a vkv::Store keeps per key. Versions are opaque
// numbers here: 0 is the nil version and every other number names one version the
// store issued. A successful write's response reveals the version it created, so the
// model state after it is exactly the record that write returned (after checking that
// the record is what the write must produce from the state before it).
//
// A Store is linearizable per record, so a history is checked one key at a time.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

namespace vkv_test::lin {

using VersionId = std::uint64_t;  // 0 = nil

// The record's payload: two fields, so that a broken store that swaps or tears them
// is visible.
struct Value {
  std::int64_t a = 0;
  std::int64_t b = 0;
  friend bool operator==(const Value&, const Value&) = default;
};

// The deterministic partial update every patch in these histories applies.
inline Value patched(Value v) {
  v.a += 1;
  v.b = v.b * 3 + 1;
  return v;
}

struct Rec {
  Value value;
  VersionId version = 0;
  std::uint64_t revision = 0;
  bool deleted = false;
  friend bool operator==(const Rec&, const Rec&) = default;
};

enum class OpKind { create, find, update, patch, soft_delete, restore, erase };
enum class Outcome { ok, not_found, conflict, duplicate };

struct Input {
  OpKind kind = OpKind::find;
  Value value;                   // create, update
  VersionId expected = 0;        // version-checked writes
  bool include_deleted = false;  // find (ReadOptions), update and patch (WriteOptions)
};

struct Output {
  Outcome outcome = Outcome::ok;
  // ok: the record returned (find: the record found; erase: the record erased).
  std::optional<Rec> record;
  // conflict: the current record if the call reported it (Result::current()).
  std::optional<Rec> current;
  // conflict: the winning version if the call reported it
  // (OptimisticLockError::actual_version()).
  std::optional<VersionId> actual;
};

struct Operation {
  int client = 0;
  Input input;
  Output output;
  std::uint64_t call = 0;  // invocation time; any clock that orders events totally
  std::uint64_t ret = 0;   // response time; call < ret
};

// Model state: nullopt = no record under this key.
using State = std::optional<Rec>;

// Whether `op` can take effect in `state` producing its recorded response, and the
// state after it. Failing writes must be explained by the state too: not-found checks
// come before the version check, as in the contract's order of errors.
inline std::optional<State> step(const State& state, const Input& in, const Output& out) {
  const bool present = state.has_value();
  switch (in.kind) {
    case OpKind::create: {
      if (present) {
        if (out.outcome == Outcome::duplicate) return state;
        return std::nullopt;
      }
      if (out.outcome != Outcome::ok || !out.record) return std::nullopt;
      const Rec& r = *out.record;
      if (r.value != in.value || r.revision != 1 || r.deleted || r.version == 0) {
        return std::nullopt;
      }
      return State(r);
    }
    case OpKind::find: {
      const bool visible = present && (!state->deleted || in.include_deleted);
      if (!visible) {
        if (out.outcome == Outcome::not_found && !out.record) return state;
        return std::nullopt;
      }
      if (out.outcome == Outcome::ok && out.record && *out.record == *state) return state;
      return std::nullopt;
    }
    case OpKind::update:
    case OpKind::patch:
    case OpKind::soft_delete:
    case OpKind::restore:
    case OpKind::erase: {
      bool not_found = !present;
      if (present) {
        switch (in.kind) {
          case OpKind::update:
          case OpKind::patch:
            not_found = state->deleted && !in.include_deleted;
            break;
          case OpKind::soft_delete:
            not_found = state->deleted;
            break;
          case OpKind::restore:
            not_found = !state->deleted;
            break;
          default:
            break;
        }
      }
      if (not_found) {
        if (out.outcome == Outcome::not_found) return state;
        return std::nullopt;
      }
      if (state->version != in.expected) {
        if (out.outcome != Outcome::conflict) return std::nullopt;
        if (out.current && *out.current != *state) return std::nullopt;
        if (out.actual && *out.actual != state->version) return std::nullopt;
        return state;
      }
      if (out.outcome != Outcome::ok) return std::nullopt;
      if (in.kind == OpKind::erase) {
        // The throwing erase() returns nothing; try_erase() returns the erased record.
        if (out.record && *out.record != *state) return std::nullopt;
        return State(std::nullopt);
      }
      if (!out.record) return std::nullopt;
      const Rec& r = *out.record;
      Rec expect = *state;
      expect.revision += 1;
      switch (in.kind) {
        case OpKind::update:
          expect.value = in.value;
          break;
        case OpKind::patch:
          expect.value = patched(state->value);
          break;
        case OpKind::soft_delete:
          expect.deleted = true;
          break;
        case OpKind::restore:
          expect.deleted = false;
          break;
        default:
          break;
      }
      // A write issues a fresh version; that it is fresh across the whole run is
      // checked separately (distinct_write_versions), here only that it moved on.
      if (r.version == 0 || r.version == state->version) return std::nullopt;
      expect.version = r.version;
      if (r != expect) return std::nullopt;
      return State(r);
    }
  }
  return std::nullopt;
}

// Every version a successful write returned must be distinct (the store never issues
// the same version twice). Returns the first repeated version, if any.
inline std::optional<VersionId> repeated_write_version(const std::vector<Operation>& ops) {
  std::unordered_set<VersionId> seen;
  for (const Operation& op : ops) {
    const bool writes = op.input.kind != OpKind::find && op.input.kind != OpKind::erase;
    if (!writes || op.output.outcome != Outcome::ok || !op.output.record) continue;
    if (!seen.insert(op.output.record->version).second) return op.output.record->version;
  }
  return std::nullopt;
}

namespace detail {

class Bitset {
 public:
  explicit Bitset(std::size_t bits) : words_((bits + 63) / 64, 0) {}
  void set(std::size_t i) { words_[i / 64] |= std::uint64_t{1} << (i % 64); }
  void clear(std::size_t i) { words_[i / 64] &= ~(std::uint64_t{1} << (i % 64)); }
  std::size_t hash() const {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (std::uint64_t w : words_) h = (h ^ w) * 0x100000001b3ULL + (h >> 29);
    return static_cast<std::size_t>(h);
  }
  friend bool operator==(const Bitset&, const Bitset&) = default;

 private:
  std::vector<std::uint64_t> words_;
};

struct CacheEntry {
  Bitset linearized;
  State state;
  friend bool operator==(const CacheEntry&, const CacheEntry&) = default;
};

struct CacheHash {
  std::size_t operator()(const CacheEntry& e) const {
    std::size_t h = e.linearized.hash();
    if (e.state) {
      const Rec& r = *e.state;
      for (std::uint64_t x :
           {static_cast<std::uint64_t>(r.value.a), static_cast<std::uint64_t>(r.value.b), r.version,
            r.revision, static_cast<std::uint64_t>(r.deleted)}) {
        h = (h ^ x) * 0x100000001b3ULL + (h >> 31);
      }
    }
    return h;
  }
};

// One event of the doubly linked list the search walks.
struct Entry {
  bool is_call = false;
  std::size_t op = 0;      // index into the history
  Entry* match = nullptr;  // call -> its return
  Entry* prev = nullptr;
  Entry* next = nullptr;
};

}  // namespace detail

struct CheckResult {
  bool linearizable = false;
  std::size_t states_explored = 0;
  // When linearizable: the operations (indices into the history) in an order that
  // explains the history.
  std::vector<std::size_t> order;
};

// Decides whether some sequential order of `ops`, consistent with their real-time
// order (a call that returned before another was invoked comes first), explains every
// response under the versioned-register model, starting from `initial`.
inline CheckResult check(const std::vector<Operation>& ops, State initial = std::nullopt) {
  using detail::Entry;
  const std::size_t n = ops.size();
  std::vector<Entry> storage(2 * n);
  struct Event {
    std::uint64_t time;
    bool is_call;
    std::size_t op;
  };
  std::vector<Event> events;
  events.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    events.push_back({ops[i].call, true, i});
    events.push_back({ops[i].ret, false, i});
  }
  // Calls before returns at equal times: overlapping is the permissive reading.
  std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) {
    if (x.time != y.time) return x.time < y.time;
    return x.is_call && !y.is_call;
  });
  Entry head;
  Entry* tail = &head;
  std::vector<Entry*> call_of(n, nullptr);
  std::vector<Entry*> return_of(n, nullptr);
  for (std::size_t i = 0; i < events.size(); ++i) {
    Entry* e = &storage[i];
    e->is_call = events[i].is_call;
    e->op = events[i].op;
    e->prev = tail;
    tail->next = e;
    tail = e;
    (e->is_call ? call_of : return_of)[e->op] = e;
  }
  for (std::size_t i = 0; i < n; ++i) call_of[i]->match = return_of[i];

  auto lift = [](Entry* call) {
    call->prev->next = call->next;
    if (call->next) call->next->prev = call->prev;
    Entry* r = call->match;
    r->prev->next = r->next;
    if (r->next) r->next->prev = r->prev;
  };
  auto unlift = [](Entry* call) {
    Entry* r = call->match;
    r->prev->next = r;
    if (r->next) r->next->prev = r;
    call->prev->next = call;
    if (call->next) call->next->prev = call;
  };

  CheckResult result;
  std::unordered_set<detail::CacheEntry, detail::CacheHash> cache;
  struct Frame {
    Entry* call;
    State state_before;
  };
  std::vector<Frame> stack;
  detail::Bitset linearized(n);
  State state = std::move(initial);
  Entry* cur = head.next;
  while (head.next != nullptr) {
    if (cur->is_call) {
      const Operation& op = ops[cur->op];
      if (std::optional<State> next = step(state, op.input, op.output)) {
        detail::Bitset candidate = linearized;
        candidate.set(cur->op);
        ++result.states_explored;
        if (cache.insert({candidate, *next}).second) {
          stack.push_back({cur, state});
          state = std::move(*next);
          linearized = std::move(candidate);
          lift(cur);
          cur = head.next;
          continue;
        }
      }
      cur = cur->next;
    } else {
      // A return whose call is still in the list: that operation must have taken
      // effect by now, and no choice on this path lets it. Undo the last choice.
      if (stack.empty()) return result;
      Frame f = std::move(stack.back());
      stack.pop_back();
      state = std::move(f.state_before);
      linearized.clear(f.call->op);
      unlift(f.call);
      cur = f.call->next;
    }
  }
  result.linearizable = true;
  for (const Frame& f : stack) result.order.push_back(f.call->op);
  return result;
}

// Human-readable history, for failure messages.
inline std::string describe(const std::vector<Operation>& ops) {
  static constexpr const char* kinds[] = {"create",      "find",    "update", "patch",
                                          "soft_delete", "restore", "erase"};
  static constexpr const char* outcomes[] = {"ok", "not_found", "conflict", "duplicate"};
  auto rec = [](std::ostream& os, const Rec& r) {
    os << "{a=" << r.value.a << " b=" << r.value.b << " v=" << r.version << " rev=" << r.revision
       << (r.deleted ? " deleted" : "") << "}";
  };
  std::vector<std::size_t> idx(ops.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t x, std::size_t y) { return ops[x].call < ops[y].call; });
  std::ostringstream os;
  for (std::size_t i : idx) {
    const Operation& op = ops[i];
    os << "  [" << op.call << "," << op.ret << "] c" << op.client << " "
       << kinds[static_cast<int>(op.input.kind)] << "(";
    if (op.input.kind == OpKind::create || op.input.kind == OpKind::update) {
      os << "a=" << op.input.value.a << " b=" << op.input.value.b << " ";
    }
    if (op.input.kind != OpKind::create && op.input.kind != OpKind::find) {
      os << "exp=" << op.input.expected;
    }
    if (op.input.include_deleted) os << " incl";
    os << ") -> " << outcomes[static_cast<int>(op.output.outcome)];
    if (op.output.record) rec(os << " ", *op.output.record);
    if (op.output.current) rec(os << " current=", *op.output.current);
    if (op.output.actual) os << " actual=" << *op.output.actual;
    os << "\n";
  }
  return os.str();
}

// How many operations of `h` ran concurrently with at least one other: a history with
// none is sequential and proves little.
inline std::size_t count_overlapping(const std::vector<Operation>& h) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < h.size(); ++i) {
    for (std::size_t j = 0; j < h.size(); ++j) {
      if (i != j && h[i].call < h[j].ret && h[j].call < h[i].ret) {
        ++n;
        break;
      }
    }
  }
  return n;
}

}  // namespace vkv_test::lin
