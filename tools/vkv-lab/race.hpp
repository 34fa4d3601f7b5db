// The race of the seed guide ("Race Condition Scenario"), played by two real threads:
// once against a plain map used as last-writer-wins read/modify/write, once against
// vkv::Store. Part of vkv_lab_core, which vkv-lab and tests/lab/lab_race_test.cpp link.
#pragma once

#include <cstdint>
#include <string>

namespace vkv::lab {

// The record both workers change: worker A renames the customer, worker B deposits.
struct Customer {
  std::string name;
  std::int64_t balance_cents = 0;
};

// What one round looked like, kept for the first round so the demo can tell the story
// with the actual values.
struct PlainRoundTrace {
  Customer initial;
  Customer read_by_a, read_by_b;
  Customer written_by_a, written_by_b;
  Customer final_state;
  bool a_wrote_last = false;  // whose write landed last (and so erased the other's)
};

struct VkvRoundTrace {
  Customer initial;
  std::string initial_version;
  Customer read_by_a, read_by_b;  // both read the same version
  char winner = '?';              // 'A' or 'B': whose compare-and-swap went first
  Customer committed_by_winner;
  std::string refusal;       // the loser's OptimisticLockError::what()
  Customer reread_by_loser;  // the current record the loser retried from
  Customer final_state;
  std::uint64_t final_revision = 0;
};

struct RaceSummary {
  int rounds = 0;
  // Updates missing from the final records (each round makes two: a rename and a
  // deposit). The plain map loses one per round by construction; vkv must lose none.
  int plain_lost_updates = 0;
  int vkv_lost_updates = 0;
  // OptimisticLockErrors the vkv workers caught (the loser of every round gets one)
  // and the retries that followed them.
  int vkv_conflicts = 0;
  int vkv_retries = 0;
  PlainRoundTrace plain_first;
  VkvRoundTrace vkv_first;
};

// The new name worker A writes and the deposit worker B adds.
inline constexpr const char* kRenamedTo = "Process A Update";
inline constexpr std::int64_t kDeposit = 2'500;

// Plays `rounds` rounds (one customer per round) on each store. In every round both
// workers read the customer, meet at a barrier, and only then write, so both always
// read the same state: the interleaving that loses an update is forced, not hoped for.
// rounds >= 1.
RaceSummary run_race(int rounds);

}  // namespace vkv::lab
