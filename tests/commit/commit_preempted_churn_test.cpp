// A preempted committer while its keys are erased and re-created (the realistic-inputs
// axis; docs/testing.md). Commit A on {L, H} (keys of 16, 36 and 120
// characters, L the lower slot address, installed first) is parked by the protocol's
// preemption hook right after its install at L. Meanwhile a churn thread runs a
// fixed-seed sequence of finds, version-checked updates, erases, creates and puts on
// both keys, and a reader thread checks every id and value it meets. Then A is
// released. The churn thread is the only other writer, so its sequence is a sequential
// history; A's commit must fit into it at one point: the test replays the model with
// A's commit at every position and requires one where every recorded answer (each
// find's version and value, each write's success, A's outcome) and the final store
// agree. Two openings make both outcomes certain:
//   help_first      the churn thread first writes L with the version A read, meets A's
//                   entry and finishes A (readers read past it; writers help): A
//                   succeeds;
//   recreate_first  it first erases and re-creates H (a new record, new versions):
//                   A, helped or not, must fail on H.
#define VKV_TESTING_COMMIT_HOOKS  // before any vkv header: compiles the hook in
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <latch>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/commit_hook.hpp"
#include "support/stress.hpp"

namespace {

using StringStore = vkv::Store<std::string>;
using vkv_test::CommitParker;
using vkv_test::CommitPoint;

std::string key_of_length(std::size_t length, char tag) {
  std::string key = "acct-" + std::string(1, tag) + "-";
  while (key.size() < length) key += "0123456789abcdef-";
  key.resize(length);
  return key;
}
// Values own heap memory and name their key, so a reader can check they belong.
std::string value_for(const std::string& key, const std::string& who, std::int64_t n) {
  return key + " <- " + who + " #" + std::to_string(n);
}
bool belongs(const std::string& key, const std::string& value) {
  return value.compare(0, key.size() + 4, key + " <- ") == 0;
}

enum class Kind { find, update, erase, create, put };

// One churn operation as it happened: what was asked and what came back.
struct Op {
  Kind kind = Kind::find;
  int key = 0;  // 0 = L, 1 = H
  vkv::Version expected;
  std::string value;
  bool ok = false;
  vkv::Version version;  // the new version (ok writes) or the version read (find)
  std::string read;      // find: the value read
};

struct Cell {
  bool present = false;
  vkv::Version version;
  std::string value;
};
using State = std::array<Cell, 2>;

// Applies `op` to `s`; false if the recorded answer is impossible in `s`.
bool replay(State& s, const Op& op) {
  Cell& c = s[static_cast<std::size_t>(op.key)];
  switch (op.kind) {
    case Kind::find:
      if (op.ok != c.present) return false;
      return !op.ok || (op.version == c.version && op.read == c.value);
    case Kind::update:
    case Kind::erase:
      if (op.ok != (c.present && c.version == op.expected)) return false;
      if (op.ok && op.kind == Kind::update) c = Cell{true, op.version, op.value};
      if (op.ok && op.kind == Kind::erase) c = Cell{};
      return true;
    case Kind::create:
      if (op.ok == c.present) return false;
      if (op.ok) c = Cell{true, op.version, op.value};
      return true;
    case Kind::put:
      c = Cell{true, op.version, op.value};
      return op.ok;
  }
  return false;
}

class PreemptedCommit
    : public ::testing::TestWithParam<std::tuple<std::size_t, bool /*recreate_first*/>> {};

TEST_P(PreemptedCommit, ChurnOnItsKeysFitsOneLinearization) {
  // Plain variables, not a structured binding: the lambdas below capture them (clang 14
  // cannot capture a binding).
  const std::size_t length = std::get<0>(GetParam());
  const bool recreate_first = std::get<1>(GetParam());
  const std::int64_t steps = vkv_test::scaled(300, 4);
  StringStore store;
  const std::array<std::string, 2> names{key_of_length(length, '1'), key_of_length(length, '2')};
  const auto r1 = store.create(names[0], value_for(names[0], "setup", 0));
  const auto r2 = store.create(names[1], value_for(names[1], "setup", 0));
  const bool first_low =
      vkv_test::slot_address(store, names[0]) < vkv_test::slot_address(store, names[1]);
  // keys[0] = L (installed first), keys[1] = H.
  const std::array<std::string, 2> keys{first_low ? names[0] : names[1],
                                        first_low ? names[1] : names[0]};
  State initial{Cell{true, (first_low ? r1 : r2).version, (first_low ? r1 : r2).value},
                Cell{true, (first_low ? r2 : r1).version, (first_low ? r2 : r1).value}};

  CommitParker<std::string> parker(CommitPoint::installed, 0);
  std::optional<vkv::Result<std::vector<StringStore::record_type>>> a_result;
  const std::array<std::string, 2> a_values{value_for(keys[0], "A", 0), value_for(keys[1], "A", 0)};
  std::thread a_thread([&] {
    parker.arm();
    vkv::Transaction<std::string> a;
    a.update(keys[0], initial[0].version, a_values[0])
        .update(keys[1], initial[1].version, a_values[1]);
    a_result.emplace(store.try_commit(a));
    CommitParker<std::string>::disarm();
  });
  parker.wait_parked();

  std::vector<Op> history;
  std::latch opened(1);
  std::atomic<bool> churn_done{false};
  std::int64_t reads = 0, bad_reads = 0;
  std::thread reader([&] {
    opened.wait();  // after the opening: a read before it would decide A's outcome
    // acquire: pairs with the churn thread's release.
    for (std::int64_t i = 0; i < 16 || !churn_done.load(std::memory_order_acquire); ++i) {
      for (const auto& r : store.find_many(std::span<const std::string>(keys))) {
        ++reads;
        if (r && !belongs(r->id, r->value)) ++bad_reads;
      }
      store.for_each([&](const StringStore::record_type& r) {
        ++reads;
        if ((r.id != keys[0] && r.id != keys[1]) || !belongs(r.id, r.value)) ++bad_reads;
      });
    }
  });
  std::thread churn([&] {
    std::mt19937_64 rng(length * 2 + (recreate_first ? 1 : 0));
    std::array<vkv::Version, 2> known{initial[0].version, initial[1].version};
    auto run = [&](Kind kind, int k, std::int64_t n) {
      const std::string& key = keys[static_cast<std::size_t>(k)];
      Op op;
      op.kind = kind;
      op.key = k;
      op.expected = known[static_cast<std::size_t>(k)];
      op.value = value_for(key, "churn", n);
      if (kind == Kind::find) {
        if (const auto r = store.find(key)) {
          op.ok = true;
          op.version = r->version;
          op.read = r->value;
        }
      } else if (kind == Kind::update) {
        const auto r = store.try_update_with_version(key, op.expected, op.value);
        op.ok = r.ok();
        if (r.ok()) op.version = r.value().version;
      } else if (kind == Kind::erase) {
        op.ok = store.try_erase(key, op.expected).ok();
      } else if (kind == Kind::create) {
        const auto r = store.try_create(key, op.value);
        op.ok = r.ok();
        if (r.ok()) op.version = r.value().version;
      } else {
        op.version = store.put(key, op.value).version;
        op.ok = true;
      }
      if (op.ok && kind != Kind::erase) known[static_cast<std::size_t>(k)] = op.version;
      history.push_back(op);
    };
    if (recreate_first) {  // H erased and re-created before anyone meets A's entry
      run(Kind::erase, 1, -2);
      run(Kind::create, 1, -1);
    } else {  // a write to L meets A's entry and finishes A (a read would not help)
      run(Kind::update, 0, -1);
    }
    opened.count_down();
    for (std::int64_t n = 0; n < steps; ++n) {
      const int k = static_cast<int>(rng() % 2);
      const auto kind = static_cast<Kind>(rng() % 5);
      // A find first refreshes the known version (a stale one mostly conflicts).
      if (kind != Kind::find && rng() % 2 == 0) run(Kind::find, k, n);
      run(kind, k, n);
    }
    // release: the reader's acquire load sees the churn finished.
    churn_done.store(true, std::memory_order_release);
  });
  churn.join();
  parker.release();
  a_thread.join();
  reader.join();

  ASSERT_TRUE(a_result.has_value());
  EXPECT_EQ(a_result->ok(), !recreate_first) << "A's outcome is certain after the opening";
  EXPECT_EQ(bad_reads, 0) << "a reader met an id that is not a key, or another key's value";
  EXPECT_GT(reads, 0);

  // The final store as a state.
  State final_state;
  for (std::size_t k = 0; k < 2; ++k) {
    if (const auto r = store.find(keys[k])) final_state[k] = Cell{true, r->version, r->value};
  }
  // A at position p of the churn history, p = 0 .. size: one must explain everything.
  std::int64_t fits = 0;
  for (std::size_t p = 0; p <= history.size(); ++p) {
    State s = initial;
    bool ok = true;
    for (std::size_t i = 0; i <= history.size() && ok; ++i) {
      if (i == p) {
        const bool can = s[0].present && s[0].version == initial[0].version && s[1].present &&
                         s[1].version == initial[1].version;
        ok = can == a_result->ok();
        if (ok && can) {
          for (std::size_t k = 0; k < 2; ++k) {
            s[k] = Cell{true, a_result->value()[k].version, a_values[k]};
          }
        }
      }
      if (i < history.size()) ok = ok && replay(s, history[i]);
    }
    for (std::size_t k = 0; k < 2 && ok; ++k) {
      ok = s[k].present == final_state[k].present &&
           (!s[k].present ||
            (s[k].version == final_state[k].version && s[k].value == final_state[k].value));
    }
    if (ok) ++fits;
  }
  EXPECT_GE(fits, 1) << "no position of A's commit explains the " << history.size()
                     << " churn operations and the final store";
  EXPECT_EQ(store.size(),
            static_cast<std::size_t>(final_state[0].present) + final_state[1].present);
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
}

std::string cell_name(const ::testing::TestParamInfo<std::tuple<std::size_t, bool>>& info) {
  return "len" + std::to_string(std::get<0>(info.param)) +
         (std::get<1>(info.param) ? "_recreate_first" : "_help_first");
}

INSTANTIATE_TEST_SUITE_P(LongKeys, PreemptedCommit,
                         ::testing::Combine(::testing::Values(std::size_t{16}, std::size_t{36},
                                                              std::size_t{120}),
                                            ::testing::Bool()),
                         cell_name);

}  // namespace
