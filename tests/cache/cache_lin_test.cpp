// Linearizability of the cache layer: random concurrent histories of put,
// find_or_create, create, find, find_many, version-checked update / patch / soft delete
// / erase and commit checks on hot keys of a store that evicts (a tiny max_records) or
// expires records while the calls run. Each per-key history is checked against the
// versioned-register model extended by one spontaneous step: the record may vanish,
// after which it is absent until a create, put or find_or_create makes a new one. So a
// version-checked write that reports success must have found its record (it beat the
// removal), and one that lost to a removal must report not found; a find may not return
// a record that was removed.
//
// When vanishing may happen: in an evicting store, at any instant. In a store that only
// expires, a record lives until it is removed, and no later: it may vanish just before
// an operation only if its stamp (Record::expires_at) can have passed by that
// operation's return, and it must have vanished before an operation that was called
// after its stamp had passed (every operation reads the clock after its call and
// removes an expired record it meets, before it reports it absent). Each operation
// records the expiry clock just after its call and just before its return. One run
// expires records with a TTL of microseconds (the real clock); another with a TTL of
// an hour and the test clock (detail::advance_expiry_clock) moved two hours forward
// at a fixed point of every round, so that every record written before that point
// expires there, deterministically, mid-history.
//
// The search (Wing & Gong with memoisation) is this file's own: tests/lin/checker.hpp
// models the core API, whose OpKinds do not include put and find_or_create.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

using namespace std::chrono_literals;

// A value whose copy sometimes yields the processor: a write copies the value it built
// between its checks and its CAS, so this widens the windows in which other threads
// (and the test clock's jump) come between a write's check and its install.
struct Value {
  std::int64_t a = 0;
  Value() = default;
  explicit Value(std::int64_t v) : a(v) {}
  Value(const Value& other) : a(other.a) {
    thread_local std::uint32_t state = 0x9e3779b9u;
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    if (state % 4 == 0) std::this_thread::yield();
  }
  Value& operator=(const Value&) = default;
  friend bool operator==(const Value&, const Value&) = default;
};
using LStore = vkv::Store<Value>;

enum class Kind {
  find,
  create,
  put,
  find_or_create,
  update,
  soft_delete,
  erase,
  find_many,
  patch,
  check,
};
constexpr int kKinds = 10;
enum class Outcome { ok, not_found, conflict, duplicate };

struct Rec {
  Value value;
  vkv::Version version;
  std::uint64_t revision = 0;
  bool deleted = false;
  std::int64_t expires = 0;  // the expiry stamp (expiry clock nanoseconds), 0 = never
  friend bool operator==(const Rec&, const Rec&) = default;
};
using State = std::optional<Rec>;

struct Op {
  int key = 0;
  Kind kind = Kind::find;
  Value value;
  vkv::Version expected;
  bool include_deleted = false;
  Outcome outcome = Outcome::ok;
  std::optional<Rec> record;
  std::uint64_t call = 0;
  std::uint64_t ret = 0;
  std::int64_t clock_call = 0;  // the expiry clock just after the call
  std::int64_t clock_ret = 0;   // and just before the return
};

template <class R>
Rec rec_of(const R& r) {
  const std::int64_t expires =
      r.expires_at
          ? std::chrono::duration_cast<std::chrono::nanoseconds>(r.expires_at->time_since_epoch())
                .count()
          : 0;
  return Rec{r.value, r.version, r.revision, r.deleted, expires};
}

// The versioned-register model: the state after `op` from `s`, if `op`'s response is
// possible there.
std::optional<State> step(const State& s, const Op& op) {
  const bool present = s.has_value();
  auto fresh = [&](std::uint64_t revision) -> std::optional<State> {
    if (op.outcome != Outcome::ok || !op.record) return std::nullopt;
    const Rec& r = *op.record;
    if (r.value != op.value || r.revision != revision || r.deleted || r.version.is_nil() ||
        (present && r.version == s->version)) {
      return std::nullopt;
    }
    return State(r);
  };
  switch (op.kind) {
    case Kind::find:
    case Kind::find_many: {
      const bool visible = present && (!s->deleted || op.include_deleted);
      if (!visible)
        return op.outcome == Outcome::not_found ? std::optional<State>(s) : std::nullopt;
      if (op.outcome == Outcome::ok && op.record == s) return s;
      return std::nullopt;
    }
    case Kind::create:
      if (present) return op.outcome == Outcome::duplicate ? std::optional<State>(s) : std::nullopt;
      return fresh(1);
    case Kind::put:
      return fresh(present ? s->revision + 1 : 1);
    case Kind::find_or_create:
      if (!present) return fresh(1);
      if (s->deleted)
        return op.outcome == Outcome::duplicate ? std::optional<State>(s) : std::nullopt;
      if (op.outcome == Outcome::ok && op.record == s) return s;
      return std::nullopt;
    case Kind::check:
      if (!present || s->deleted)
        return op.outcome == Outcome::not_found ? std::optional<State>(s) : std::nullopt;
      if (s->version != op.expected) {
        return op.outcome == Outcome::conflict ? std::optional<State>(s) : std::nullopt;
      }
      return op.outcome == Outcome::ok && op.record == s ? std::optional<State>(s) : std::nullopt;
    case Kind::update:
    case Kind::patch:
    case Kind::soft_delete:
    case Kind::erase: {
      const bool updates = op.kind == Kind::update || op.kind == Kind::patch;
      const bool not_found =
          !present || (updates && s->deleted) || (op.kind == Kind::soft_delete && s->deleted);
      if (not_found)
        return op.outcome == Outcome::not_found ? std::optional<State>(s) : std::nullopt;
      if (s->version != op.expected) {
        return op.outcome == Outcome::conflict ? std::optional<State>(s) : std::nullopt;
      }
      if (op.outcome != Outcome::ok) return std::nullopt;
      if (op.kind == Kind::erase) return State(std::nullopt);
      if (!op.record) return std::nullopt;
      Rec expect = *s;
      expect.revision += 1;
      if (updates) {
        expect.value = op.value;
        expect.expires = op.record->expires;  // a write takes a new stamp
      }
      if (op.kind == Kind::soft_delete) expect.deleted = true;
      if (op.record->version == s->version) return std::nullopt;
      expect.version = op.record->version;
      if (*op.record != expect) return std::nullopt;
      return State(expect);
    }
  }
  return std::nullopt;
}

struct StateHash {
  std::size_t operator()(const std::pair<std::uint64_t, State>& e) const {
    std::size_t h = std::hash<std::uint64_t>()(e.first);
    if (e.second) {
      h ^= std::hash<vkv::Version>()(e.second->version) * 31 + e.second->revision;
    }
    return h;
  }
};

// Wing & Gong search: is there an order of `ops`, respecting real time, that the
// model explains, where before any operation the record may also vanish?
// How the record may vanish: at any instant (eviction), or only by expiry (see the top).
enum class Vanish { any_time, by_expiry };

class Search {
 public:
  explicit Search(const std::vector<Op>& ops, Vanish vanish = Vanish::any_time)
      : ops_(ops), vanish_(vanish) {}
  bool linearizable() { return dfs(0, std::nullopt); }
  std::size_t steps() const { return steps_; }

 private:
  bool dfs(std::uint64_t done, const State& s) {
    if (done == (std::uint64_t{1} << ops_.size()) - 1) return true;
    if (!failed_.insert({done, s}).second) return false;
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      if (done & (std::uint64_t{1} << i)) continue;
      bool minimal = true;  // no pending op returned before op i was called
      for (std::size_t j = 0; j < ops_.size() && minimal; ++j) {
        if (!(done & (std::uint64_t{1} << j)) && ops_[j].ret < ops_[i].call) minimal = false;
      }
      if (!minimal) continue;
      ++steps_;
      const std::uint64_t next_done = done | (std::uint64_t{1} << i);
      const Op& op = ops_[i];
      // By expiry: it must be gone if its stamp had passed when op i was called, and
      // may be gone only if its stamp can have passed by op i's return.
      const bool expiring = s && s->expires != 0;
      const bool must_vanish =
          vanish_ == Vanish::by_expiry && expiring && s->expires <= op.clock_call;
      const bool may_vanish =
          s && (vanish_ == Vanish::any_time || (expiring && s->expires <= op.clock_ret));
      if (!must_vanish) {
        if (auto next = step(s, op); next && dfs(next_done, *next)) return true;
      }
      if (may_vanish) {  // the record vanished (evicted / expired) just before op i
        if (auto next = step(std::nullopt, op); next && dfs(next_done, *next)) return true;
      }
    }
    return false;
  }
  const std::vector<Op>& ops_;
  Vanish vanish_;
  std::unordered_set<std::pair<std::uint64_t, State>, StateHash> failed_;
  std::size_t steps_ = 0;
};

template <class R>
void from_result(Op& op, const vkv::Result<R>& r) {
  if (r.ok()) {
    op.outcome = Outcome::ok;
    op.record = rec_of(r.value());
    return;
  }
  op.outcome = r.error() == vkv::Errc::not_found  ? Outcome::not_found
               : r.error() == vkv::Errc::conflict ? Outcome::conflict
                                                  : Outcome::duplicate;
}

struct RunStats {
  std::size_t ops = 0, histories = 0, failures = 0, steps = 0;
  std::string first_failure;
};

std::string describe(const std::vector<Op>& h) {
  static const char* kinds[] = {"find",        "create", "put",       "find_or_create", "update",
                                "soft_delete", "erase",  "find_many", "patch",          "check"};
  static const char* outcomes[] = {"ok", "not_found", "conflict", "duplicate"};
  std::ostringstream os;
  for (const Op& op : h) {
    os << "  [" << op.call << "," << op.ret << "] clock [" << op.clock_call << "," << op.clock_ret
       << "] " << kinds[static_cast<int>(op.kind)] << "(a=" << op.value.a << ") -> "
       << outcomes[static_cast<int>(op.outcome)];
    if (op.record)
      os << " {a=" << op.record->value.a << " rev=" << op.record->revision
         << (op.record->deleted ? " deleted" : "") << " expires=" << op.record->expires << "}";
    os << "\n";
  }
  return os.str();
}

// The key of a history: short and long keys, one length per round (realistic inputs):
// eviction and expiry remove index entries whose keys own heap memory.
constexpr std::size_t kKeyLengths[] = {0, 16, 36, 120};
std::string key_name(int round, int key) {
  std::string name = "r" + std::to_string(round) + "k" + std::to_string(key);
  name.resize(std::max(name.size(), kKeyLengths[round % 4]), '~');
  return name;
}

// advance_clock: thread 0 moves the test clock two hours forward halfway through each
// round (records then carry a one-hour TTL).
RunStats run(LStore& store, int rounds, std::uint64_t seed, Vanish vanish,
             bool advance_clock = false) {
  constexpr int kThreads = 4, kOps = 8, kKeys = 2;
  std::atomic<std::uint64_t> clock{1};
  std::barrier start(kThreads);
  std::vector<std::vector<Op>> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 7919 + static_cast<std::uint64_t>(t));
      for (int round = 0; round < rounds; ++round) {
        start.arrive_and_wait();
        std::vector<std::vector<vkv::Version>> known(kKeys);
        for (int i = 0; i < kOps; ++i) {
          Op op;
          op.key = static_cast<int>(rng() % kKeys);
          const std::string name = key_name(round, op.key);
          if (advance_clock && t == 0 && i == kOps / 2) vkv::detail::advance_expiry_clock(2h);
          op.value = Value{(std::int64_t{round} << 20) | (t << 8) | i};
          op.kind = static_cast<Kind>(rng() % kKinds);
          auto& seen = known[static_cast<std::size_t>(op.key)];
          if (!seen.empty() && rng() % 10 != 0) op.expected = seen[rng() % seen.size()];
          op.include_deleted = rng() % 3 == 0;
          // acq_rel: a call stamped after another's return happens after it.
          op.call = clock.fetch_add(1, std::memory_order_acq_rel);
          op.clock_call = vkv::detail::precise_now();
          if (rng() % 4 == 0) std::this_thread::yield();
          switch (op.kind) {
            case Kind::find:
              if (auto r = store.find(name, vkv::ReadOptions{op.include_deleted})) {
                op.record = rec_of(*r);
              } else {
                op.outcome = Outcome::not_found;
              }
              break;
            case Kind::find_many: {
              const std::vector<std::string> ids{name};
              if (auto r = store.find_many(ids, vkv::ReadOptions{op.include_deleted}).front()) {
                op.record = rec_of(*r);
              } else {
                op.outcome = Outcome::not_found;
              }
              break;
            }
            case Kind::patch:
              from_result(op, store.try_patch_with_version(name, op.expected,
                                                           [&](Value& v) { v = op.value; }));
              break;
            case Kind::check: {
              vkv::Transaction<Value> tx;
              tx.check(name, op.expected);
              auto r = store.try_commit(tx);
              if (r.ok()) {
                op.outcome = Outcome::ok;
                op.record = rec_of(r.value().front());
              } else {
                op.outcome =
                    r.error() == vkv::Errc::not_found ? Outcome::not_found : Outcome::conflict;
              }
              break;
            }
            case Kind::create:
              from_result(op, store.try_create(name, op.value));
              break;
            case Kind::put:
              op.record = rec_of(store.put(name, op.value));
              break;
            case Kind::find_or_create:
              try {
                op.record = rec_of(store.find_or_create(name, [&] { return op.value; }));
              } catch (const vkv::DuplicateKeyError&) {
                op.outcome = Outcome::duplicate;
              }
              break;
            case Kind::update:
              from_result(op, store.try_update_with_version(name, op.expected, op.value));
              break;
            case Kind::soft_delete:
              from_result(op, store.try_soft_delete(name, op.expected));
              break;
            case Kind::erase: {
              auto r = store.try_erase(name, op.expected);
              from_result(op, r);
              op.record.reset();  // erase returns the erased record; the model needs none
              break;
            }
          }
          op.clock_ret = vkv::detail::precise_now();
          op.ret = clock.fetch_add(1, std::memory_order_acq_rel);
          if (op.record) seen.push_back(op.record->version);
          per_thread[static_cast<std::size_t>(t)].push_back(op);
        }
        // Tag the ops of this round (key -> history index) by position.
        for (std::size_t k = per_thread[static_cast<std::size_t>(t)].size() - kOps;
             k < per_thread[static_cast<std::size_t>(t)].size(); ++k) {
          per_thread[static_cast<std::size_t>(t)][k].key += round * kKeys;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::vector<Op>> histories(static_cast<std::size_t>(rounds * kKeys));
  for (const auto& ops : per_thread) {
    for (const Op& op : ops) histories[static_cast<std::size_t>(op.key)].push_back(op);
  }
  RunStats stats;
  for (const auto& h : histories) {
    Search search(h, vanish);
    ++stats.histories;
    stats.ops += h.size();
    const bool ok = search.linearizable();
    stats.steps += search.steps();
    if (!ok && stats.failures++ == 0) stats.first_failure = describe(h);
  }
  return stats;
}

TEST(CacheLin, PutFindOrCreateAndWritesRacingEviction) {
  vkv::StoreOptions options;
  options.max_records = 3;  // every round's keys are evicted while the calls run
  LStore store(options);
  const RunStats s = run(store, 400, 1, Vanish::any_time);
  EXPECT_EQ(s.failures, 0u) << s.first_failure;
  EXPECT_EQ(s.ops, 400u * 4 * 8);
  EXPECT_GT(store.stats().evictions, 100u);  // the race happened
  EXPECT_LE(store.size(), 3u);
  std::cout << "[cache-lin] " << s.ops << " operations, " << s.histories << " histories, "
            << store.stats().evictions << " evictions\n";
}

TEST(CacheLin, PutFindOrCreateAndWritesRacingExpiry) {
  vkv::StoreOptions options;
  options.default_ttl = 20us;  // records expire while the calls run
  LStore store(options);
  const RunStats s = run(store, 400, 2, Vanish::by_expiry);
  EXPECT_EQ(s.failures, 0u) << s.first_failure;
  EXPECT_EQ(s.ops, 400u * 4 * 8);
  EXPECT_GT(store.stats().expirations, 100u);  // the race happened
  std::cout << "[cache-lin] " << s.ops << " operations, " << s.histories << " histories, "
            << store.stats().expirations << " expirations\n";
}

TEST(CacheLin, RecordsLiveUntilRemovedAndNoLaterWithTheTestClock) {
  vkv::StoreOptions options;
  options.default_ttl = 1h;  // expires only when the test clock jumps 2 h mid-round
  LStore store(options);
  const RunStats s = run(store, 400, 3, Vanish::by_expiry, /*advance_clock=*/true);
  EXPECT_EQ(s.failures, 0u) << s.first_failure;
  EXPECT_EQ(s.ops, 400u * 4 * 8);
  EXPECT_GT(store.stats().expirations, 200u);  // most rounds removed a record mid-history
  std::cout << "[cache-lin] " << s.ops << " operations, " << s.histories << " histories, "
            << store.stats().expirations << " expirations at the test clock's jumps\n";
}

// The check can fail: a revision that skips, or a write at a version the record never
// had, cannot be explained even with removals allowed (a restarted revision can: the
// record may have been evicted in between).
TEST(CacheLin, TheModelRejectsAWrongRevision) {
  const vkv::Version v1 = vkv::detail::next_version(), v2 = vkv::detail::next_version(),
                     v3 = vkv::detail::next_version(), v9 = vkv::detail::next_version();
  std::vector<Op> h(2);
  h[0].kind = Kind::put;
  h[0].value = Value{1};
  h[0].record = Rec{Value{1}, v1, 1, false};
  h[0].call = 1;
  h[0].ret = 2;
  h[1].kind = Kind::put;
  h[1].value = Value{2};
  h[1].record = Rec{Value{2}, v2, 3, false};  // skips revision 2
  h[1].call = 3;
  h[1].ret = 4;
  EXPECT_FALSE(Search(h).linearizable());
  h[1].record->revision = 2;
  EXPECT_TRUE(Search(h).linearizable());
  h[1].record->revision = 1;  // evicted in between: a create
  EXPECT_TRUE(Search(h).linearizable());
  // An update that succeeded at a version the record never had is rejected even with
  // removals allowed.
  std::vector<Op> g(2);
  g[0] = h[0];
  g[1].kind = Kind::update;
  g[1].value = Value{3};
  g[1].expected = v9;
  g[1].record = Rec{Value{3}, v3, 2, false};
  g[1].call = 3;
  g[1].ret = 4;
  EXPECT_FALSE(Search(g).linearizable());
  g[1].expected = h[0].record->version;
  EXPECT_TRUE(Search(g).linearizable());
}

// The expiry model can fail too: a record may not vanish before its stamp, must be
// gone for a call that began after its stamp, and once reported absent cannot come back
// without a create (the history: find_many -> absent, then an update called
// before and returning after it succeeds at revision 2, then find -> present).
TEST(CacheLin, TheModelHoldsRecordsUntilTheirStampAndNoLater) {
  const vkv::Version v1 = vkv::detail::next_version(), v2 = vkv::detail::next_version();
  Op put;
  put.kind = Kind::put;
  put.value = Value{1};
  put.record = Rec{Value{1}, v1, 1, false, /*expires=*/100};
  put.call = 1;
  put.ret = 2;
  Op find;
  find.kind = Kind::find_many;
  find.outcome = Outcome::not_found;
  find.call = 4;
  find.ret = 5;
  find.clock_call = find.clock_ret = 50;  // before the stamp: the record cannot be gone
  EXPECT_FALSE(Search({put, find}, Vanish::by_expiry).linearizable());
  EXPECT_TRUE(Search({put, find}, Vanish::any_time).linearizable());
  find.clock_call = find.clock_ret = 150;  // after it: it must be gone
  EXPECT_TRUE(Search({put, find}, Vanish::by_expiry).linearizable());
  Op stale = find;
  stale.outcome = Outcome::ok;
  stale.record = put.record;
  EXPECT_FALSE(Search({put, stale}, Vanish::by_expiry).linearizable());
  // The history.
  Op update;
  update.kind = Kind::update;
  update.value = Value{2};
  update.expected = v1;
  update.record = Rec{Value{2}, v2, 2, false, 400};
  update.call = 3;
  update.ret = 6;
  update.clock_call = 90;
  update.clock_ret = 160;
  Op after;
  after.kind = Kind::find;
  after.record = update.record;
  after.call = 7;
  after.ret = 8;
  after.clock_call = after.clock_ret = 170;
  EXPECT_FALSE(Search({put, update, find, after}, Vanish::by_expiry).linearizable());
  // Without the absent report, the update beat the expiry: fine.
  EXPECT_TRUE(Search({put, update, after}, Vanish::by_expiry).linearizable());
}

}  // namespace
