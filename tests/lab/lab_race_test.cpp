// vkv-lab's race (tools/vkv-lab/race.hpp): the plain map must lose updates and vkv
// must lose none. Multi-threaded: two workers per store, a barrier per round.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "race.hpp"

namespace {

int rounds() {
  // VKV_STRESS_SCALE multiplies the rounds for longer local runs.
  const char* scale = std::getenv("VKV_STRESS_SCALE");
  const int factor = scale != nullptr ? std::max(1, std::atoi(scale)) : 1;
  return 300 * factor;
}

TEST(VkvLabRace, PlainMapLosesOneUpdatePerRoundAndVkvLosesNone) {
  const int n = rounds();
  const vkv::lab::RaceSummary race = vkv::lab::run_race(n);
  ASSERT_EQ(race.rounds, n);
  // Both workers read before either writes, so the second write always erases the
  // first: exactly one of the two updates is lost per round.
  EXPECT_GT(race.plain_lost_updates, 0);
  EXPECT_EQ(race.plain_lost_updates, n);
  EXPECT_EQ(race.vkv_lost_updates, 0);
  // Exactly one of the two version-checked writes of each round is refused, and its
  // single retry succeeds (nobody else writes that customer any more).
  EXPECT_EQ(race.vkv_conflicts, n);
  EXPECT_EQ(race.vkv_retries, n);
}

TEST(VkvLabRace, FirstRoundTraceTellsTheStory) {
  const vkv::lab::RaceSummary race = vkv::lab::run_race(1);
  const auto& plain = race.plain_first;
  EXPECT_EQ(plain.read_by_a.balance_cents, plain.initial.balance_cents);
  EXPECT_EQ(plain.read_by_b.name, plain.initial.name);
  // Last writer wins: the final state is exactly what the last writer wrote.
  const auto& last = plain.a_wrote_last ? plain.written_by_a : plain.written_by_b;
  EXPECT_EQ(plain.final_state.name, last.name);
  EXPECT_EQ(plain.final_state.balance_cents, last.balance_cents);

  const auto& v = race.vkv_first;
  ASSERT_TRUE(v.winner == 'A' || v.winner == 'B');
  EXPECT_NE(v.refusal.find("cust-123"), std::string::npos) << v.refusal;
  EXPECT_NE(v.refusal.find(v.initial_version), std::string::npos) << v.refusal;
  EXPECT_EQ(v.final_state.name, vkv::lab::kRenamedTo);
  EXPECT_EQ(v.final_state.balance_cents, v.initial.balance_cents + vkv::lab::kDeposit);
  EXPECT_EQ(v.final_revision, 3u);  // create, the winner's write, the loser's retry
  // The loser retried from the record holding the winner's change.
  EXPECT_EQ(v.reread_by_loser.name, v.committed_by_winner.name);
  EXPECT_EQ(v.reread_by_loser.balance_cents, v.committed_by_winner.balance_cents);
}

}  // namespace
