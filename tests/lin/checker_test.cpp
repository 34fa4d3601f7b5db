// The linearizability checker on hand-made histories: it must say yes to histories a
// correct store can produce and no to the classic anomalies, or a green run of the
// store workload proves nothing.
#include "lin/checker.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace vkv_test::lin {
namespace {

Rec rec(std::int64_t a, VersionId v, std::uint64_t rev, bool deleted = false) {
  return Rec{Value{a, -a}, v, rev, deleted};
}

// Builders: one operation over the interval [call, ret].
Operation create_ok(int c, std::uint64_t call, std::uint64_t ret, std::int64_t a, VersionId v) {
  Operation op{c, Input{OpKind::create, Value{a, -a}, 0, false}, {}, call, ret};
  op.output.record = rec(a, v, 1);
  return op;
}
Operation find_op(int c, std::uint64_t call, std::uint64_t ret, std::optional<Rec> r,
                  bool incl = false) {
  Operation op{c, Input{OpKind::find, {}, 0, incl}, {}, call, ret};
  op.output.outcome = r ? Outcome::ok : Outcome::not_found;
  op.output.record = r;
  return op;
}
Operation update_ok(int c, std::uint64_t call, std::uint64_t ret, VersionId expected, Rec r) {
  Operation op{c, Input{OpKind::update, r.value, expected, false}, {}, call, ret};
  op.output.record = r;
  return op;
}
Operation write_failed(int c, std::uint64_t call, std::uint64_t ret, OpKind kind,
                       VersionId expected, Outcome outcome, std::optional<Rec> current = {}) {
  Operation op{c, Input{kind, Value{999, -999}, expected, false}, {}, call, ret};
  op.output.outcome = outcome;
  op.output.current = current;
  return op;
}

TEST(LinChecker, EmptyHistoryIsLinearizable) { EXPECT_TRUE(check({}).linearizable); }

TEST(LinChecker, SequentialLifecycleIsLinearizable) {
  Operation del{0, Input{OpKind::soft_delete, {}, 2, false}, {}, 7, 8};
  del.output.record = rec(2, 3, 3, true);
  Operation res{0, Input{OpKind::restore, {}, 3, false}, {}, 11, 12};
  res.output.record = rec(2, 4, 4, false);
  Operation era{0, Input{OpKind::erase, {}, 4, false}, {}, 13, 14};
  era.output.record = rec(2, 4, 4, false);
  std::vector<Operation> h = {
      create_ok(0, 1, 2, 1, 1),
      find_op(0, 3, 4, rec(1, 1, 1)),
      update_ok(0, 5, 6, 1, rec(2, 2, 2)),
      del,
      find_op(0, 9, 10, std::nullopt),  // soft-deleted: invisible without the option
      res,
      era,
      find_op(0, 15, 16, std::nullopt),
      create_ok(0, 17, 18, 5, 5),  // recreated with fresh versions
  };
  const CheckResult r = check(h);
  EXPECT_TRUE(r.linearizable) << describe(h);
  EXPECT_EQ(r.order.size(), h.size());
}

TEST(LinChecker, StaleReadAfterCompletedWriteIsRejected) {
  std::vector<Operation> h = {
      create_ok(0, 1, 2, 1, 1), update_ok(0, 3, 4, 1, rec(2, 2, 2)),
      find_op(1, 5, 6, rec(1, 1, 1)),  // starts after the update returned
  };
  EXPECT_FALSE(check(h).linearizable) << describe(h);
}

TEST(LinChecker, ReadOverlappingWriteMaySeeEitherState) {
  for (const Rec& seen : {rec(1, 1, 1), rec(2, 2, 2)}) {
    std::vector<Operation> h = {
        create_ok(0, 1, 2, 1, 1),
        update_ok(0, 3, 6, 1, rec(2, 2, 2)),
        find_op(1, 4, 5, seen),
    };
    EXPECT_TRUE(check(h).linearizable) << describe(h);
  }
}

TEST(LinChecker, TwoSuccessfulUpdatesFromOneVersionAreRejected) {
  // The lost update optimistic locking exists to prevent, even fully concurrent.
  std::vector<Operation> h = {
      create_ok(0, 1, 2, 1, 1),
      update_ok(0, 3, 8, 1, rec(2, 2, 2)),
      update_ok(1, 4, 7, 1, rec(3, 3, 2)),
  };
  EXPECT_FALSE(check(h).linearizable) << describe(h);
  // The second winner claiming revision 3 does not help: it still expected version 1.
  h[2].output.record = rec(3, 3, 3);
  EXPECT_FALSE(check(h).linearizable) << describe(h);
}

TEST(LinChecker, ConflictNeedsAWinnerBeforeIt) {
  std::vector<Operation> h = {
      create_ok(0, 1, 2, 1, 1),
      write_failed(1, 3, 4, OpKind::update, 1, Outcome::conflict),
  };
  EXPECT_FALSE(check(h).linearizable) << "nothing else wrote version 1 away";

  // With a concurrent winner the conflict is explained, and its current record too.
  h.push_back(update_ok(0, 3, 5, 1, rec(2, 2, 2)));
  h[1].output.current = rec(2, 2, 2);
  EXPECT_TRUE(check(h).linearizable) << describe(h);

  // A current record that never existed is not.
  h[1].output.current = rec(7, 2, 2);
  EXPECT_FALSE(check(h).linearizable) << describe(h);
}

TEST(LinChecker, ActualVersionMustBeTheWinner) {
  std::vector<Operation> h = {
      create_ok(0, 1, 2, 1, 1),
      update_ok(0, 3, 4, 1, rec(2, 2, 2)),
      write_failed(1, 5, 6, OpKind::update, 1, Outcome::conflict),
  };
  h[2].output.actual = 2;
  EXPECT_TRUE(check(h).linearizable);
  h[2].output.actual = 1;
  EXPECT_FALSE(check(h).linearizable);
}

TEST(LinChecker, NotFoundAndDuplicateMustMatchPresence) {
  std::vector<Operation> absent_dup = {
      write_failed(0, 1, 2, OpKind::create, 0, Outcome::duplicate),
  };
  EXPECT_FALSE(check(absent_dup).linearizable);

  std::vector<Operation> present_nf = {
      create_ok(0, 1, 2, 1, 1),
      write_failed(1, 3, 4, OpKind::update, 1, Outcome::not_found),
  };
  EXPECT_FALSE(check(present_nf).linearizable);

  // Restoring a live record is not-found even with the right version.
  std::vector<Operation> restore_live = {
      create_ok(0, 1, 2, 1, 1),
      write_failed(1, 3, 4, OpKind::restore, 1, Outcome::not_found),
  };
  EXPECT_TRUE(check(restore_live).linearizable);
  restore_live[1].output.outcome = Outcome::conflict;
  EXPECT_FALSE(check(restore_live).linearizable);
}

TEST(LinChecker, SoftDeletedRecordIsVisibleOnlyWhenIncluded) {
  Operation del{0, Input{OpKind::soft_delete, {}, 1, false}, {}, 3, 4};
  del.output.record = rec(1, 2, 2, true);
  std::vector<Operation> h = {create_ok(0, 1, 2, 1, 1), del, find_op(1, 5, 6, rec(1, 2, 2, true))};
  EXPECT_FALSE(check(h).linearizable);
  h[2].input.include_deleted = true;
  EXPECT_TRUE(check(h).linearizable);
}

TEST(LinChecker, WriteMustChangeVersionAndBumpRevision) {
  std::vector<Operation> same_version = {create_ok(0, 1, 2, 1, 1),
                                         update_ok(0, 3, 4, 1, rec(2, 1, 2))};
  EXPECT_FALSE(check(same_version).linearizable);
  std::vector<Operation> same_revision = {create_ok(0, 1, 2, 1, 1),
                                          update_ok(0, 3, 4, 1, rec(2, 2, 1))};
  EXPECT_FALSE(check(same_revision).linearizable);
}

TEST(LinChecker, PatchMustApplyTheMutationToTheCurrentValue) {
  Operation patch{0, Input{OpKind::patch, {}, 1, false}, {}, 3, 4};
  patch.output.record = Rec{patched(Value{1, -1}), 2, 2, false};
  std::vector<Operation> h = {create_ok(0, 1, 2, 1, 1), patch};
  EXPECT_TRUE(check(h).linearizable);
  // A store that swapped the fields on the way.
  const Value p = patched(Value{1, -1});
  h[1].output.record->value = Value{p.b, p.a};
  EXPECT_FALSE(check(h).linearizable);
}

TEST(LinChecker, RepeatedVersionAcrossWritesIsReported) {
  std::vector<Operation> h = {create_ok(0, 1, 2, 1, 1), update_ok(0, 3, 4, 1, rec(2, 2, 2)),
                              update_ok(0, 5, 6, 2, rec(3, 1, 3))};
  // Per-step the model accepts version 1 again (it differs from version 2) ...
  EXPECT_TRUE(check(h).linearizable);
  // ... the run-wide check is what catches reuse.
  EXPECT_EQ(repeated_write_version(h), std::optional<VersionId>(1));
  h[2].output.record->version = 3;
  EXPECT_EQ(repeated_write_version(h), std::nullopt);
}

// A sequential history generated from the model, then stretched into overlapping
// intervals that still respect its order (each op's interval contains its position),
// must be accepted however much it overlaps; a read after all of it that returns any
// earlier state must not.
TEST(LinChecker, GeneratedOverlappingHistories) {
  std::mt19937_64 rng(42);
  int rejected = 0;
  const int trials = 200;
  for (int trial = 0; trial < trials; ++trial) {
    State state;
    std::vector<Rec> states;
    VersionId next_version = 1;
    std::vector<Operation> h;
    const int n = 24;
    for (int i = 0; i < n; ++i) {
      Operation op;
      op.client = i % 4;
      const std::uint64_t pos = 10 * static_cast<std::uint64_t>(i) + 100;
      op.call = pos - rng() % 25;
      op.ret = pos + 1 + rng() % 25;
      const std::int64_t a = i + 1;
      if (!state) {
        op.input = Input{OpKind::create, Value{a, -a}, 0, false};
        op.output.record = Rec{op.input.value, next_version++, 1, false};
      } else if (rng() % 3 == 0) {
        op.input = Input{OpKind::find, {}, 0, true};
        op.output.record = state;
      } else {
        op.input = Input{OpKind::update, Value{a, -a}, state->version, true};
        op.output.record = Rec{op.input.value, next_version++, state->revision + 1, state->deleted};
      }
      const std::optional<State> next = step(state, op.input, op.output);
      ASSERT_TRUE(next.has_value());
      if (*next != state) states.push_back(**next);
      state = *next;
      h.push_back(op);
    }
    const CheckResult ok = check(h);
    ASSERT_TRUE(ok.linearizable) << describe(h);
    ASSERT_EQ(ok.order.size(), h.size());

    Operation last_read;
    last_read.client = 9;
    last_read.input = Input{OpKind::find, {}, 0, true};
    last_read.output.record = state;
    last_read.call = 10 * n + 200;
    last_read.ret = last_read.call + 1;
    h.push_back(last_read);
    ASSERT_TRUE(check(h).linearizable);
    ASSERT_GE(states.size(), 2u);
    h.back().output.record = states[rng() % (states.size() - 1)];  // any but the last
    rejected += check(h).linearizable ? 0 : 1;
  }
  EXPECT_EQ(rejected, trials);
}

}  // namespace
}  // namespace vkv_test::lin
