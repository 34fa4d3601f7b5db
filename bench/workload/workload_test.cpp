// The shared contention driver: every strategy runs, counts consistently and keeps
// its invariant; names round-trip; the Zipf generator is skewed the right way.
#include "workload.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace wl = vkv::workload;

TEST(Workload, NamesRoundTrip) {
  const std::vector<wl::Strategy> all = wl::all_strategies();
  ASSERT_EQ(all.size(), 7u);
  for (const wl::Strategy s : all) {
    const auto parsed = wl::parse_strategy(wl::strategy_name(s));
    ASSERT_TRUE(parsed.has_value()) << wl::strategy_name(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(wl::strategy_name(wl::Strategy::no_backoff), "no-backoff");
  EXPECT_EQ(wl::strategy_name(wl::Strategy::decorrelated_jitter), "decorrelated-jitter");
  EXPECT_FALSE(wl::parse_strategy("full_jitter").has_value());
  // The unversioned reference parses but is not one of the strategies compared.
  EXPECT_EQ(wl::parse_strategy("pessimistic-unversioned"), wl::Strategy::pessimistic_unversioned);
  for (const wl::Strategy s : all) EXPECT_NE(s, wl::Strategy::pessimistic_unversioned);
  EXPECT_EQ(wl::parse_distribution("zipf"), wl::Distribution::zipf);
}

TEST(Workload, PolicyShapes) {
  wl::CellConfig c;
  c.strategy = wl::Strategy::no_backoff;
  EXPECT_EQ(wl::policy_for(c).retry_delay.count(), 0);
  c.strategy = wl::Strategy::decorrelated_jitter;
  c.base_delay = std::chrono::nanoseconds(123);
  EXPECT_EQ(wl::policy_for(c).jitter, vkv::Jitter::decorrelated);
  EXPECT_EQ(wl::policy_for(c).retry_delay.count(), 123);
}

TEST(Workload, ZipfIsSkewedAndInRange) {
  const wl::ZipfGenerator zipf(1000, 0.99);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<std::uint64_t> counts(1000, 0);
  constexpr int kDraws = 200'000;
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t k = zipf(unit(rng));
    ASSERT_LT(k, 1000u);
    ++counts[k];
  }
  // Rank 0 is the hottest; theta 0.99 over 1000 items gives it about 13 % of draws
  // (1 / zeta(1000, 0.99)), rank 1 about half of that.
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], counts[10]);
  EXPECT_NEAR(static_cast<double>(counts[0]) / kDraws, 0.134, 0.02);
  EXPECT_EQ(wl::ZipfGenerator(1, 0.99)(0.999), 0u);
}

// Every strategy on one hot key and on a few keys: the driver's own invariant check
// (sum of counters == committed writes) runs inside run_cell and throws if broken.
TEST(WorkloadConcurrency, EveryStrategyKeepsTheInvariant) {
  for (const std::size_t keys : {std::size_t{1}, std::size_t{16}}) {
    wl::Arena arena(keys);
    std::vector<wl::Strategy> strategies = wl::all_strategies();
    strategies.push_back(wl::Strategy::pessimistic_unversioned);
    for (const wl::Strategy s : strategies) {
      wl::CellConfig c;
      c.threads = 3;
      c.keys = keys;
      c.distribution = keys == 1 ? wl::Distribution::uniform : wl::Distribution::zipf;
      c.write_share = 0.7;
      c.strategy = s;
      c.duration = std::chrono::milliseconds(15);
      int progress_calls = 0;
      c.progress = [&](double done) {
        EXPECT_GE(done, 0.0);
        EXPECT_LE(done, 1.0);
        ++progress_calls;
      };
      const wl::CellResult r = wl::run_cell(c, arena);
      SCOPED_TRACE(std::string(wl::strategy_name(s)));
      EXPECT_GT(r.committed, 0u);
      EXPECT_EQ(r.committed, r.writes + r.reads);
      EXPECT_GT(r.writes, 0u);
      EXPECT_GT(r.reads, 0u);
      EXPECT_EQ(r.conflicts, r.attempts - r.writes);
      EXPECT_GE(r.attempts, r.writes);
      EXPECT_EQ(r.gave_up, 0u);
      EXPECT_GE(r.conflict_rate, 0.0);
      EXPECT_LE(r.conflict_rate, 1.0);
      EXPECT_GT(r.seconds, 0.0);
      EXPECT_GT(r.goodput, 0.0);
      EXPECT_LE(r.latency_p50_ns, r.latency_p99_ns);
      EXPECT_LE(r.latency_p99_ns, r.latency_p999_ns);
      EXPECT_GE(r.retries_mean, 0.0);
      EXPECT_GE(r.retries_p99, 0.0);
      EXPECT_GE(progress_calls, 1);  // the driver reports at least once per cell
      if (s == wl::Strategy::pessimistic || s == wl::Strategy::pessimistic_unversioned) {
        EXPECT_EQ(r.conflicts, 0u);
      }
      if (s != wl::Strategy::adaptive) {
        EXPECT_EQ(r.turns, 0u);
      }
    }
  }
}

TEST(Workload, RejectsBadConfigs) {
  wl::CellConfig c;
  c.threads = 0;
  EXPECT_THROW(wl::run_cell(c), std::invalid_argument);
  c.threads = 1;
  c.write_share = 1.5;
  EXPECT_THROW(wl::run_cell(c), std::invalid_argument);
  wl::Arena arena(4);
  c.write_share = 1.0;
  c.keys = 5;
  EXPECT_THROW(wl::run_cell(c, arena), std::invalid_argument);
}

}  // namespace
