// The shared contention driver: every strategy runs, counts consistently and keeps
// its invariant; names round-trip; the Zipf generator is skewed the right way.
#include "workload/workload.hpp"

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

TEST(Workload, WindowNamesRoundTrip) {
  using std::chrono::microseconds;
  const std::vector<wl::Window> standard = wl::standard_windows();
  ASSERT_EQ(standard.size(), 5u);
  std::vector<std::string> names;
  for (const wl::Window& w : standard) {
    names.push_back(wl::window_name(w));
    EXPECT_EQ(wl::parse_window(names.back()), w) << names.back();
  }
  EXPECT_EQ(names, (std::vector<std::string>{"0", "busy-1us", "busy-10us", "blocking-10us",
                                             "blocking-100us"}));
  EXPECT_EQ(wl::parse_window("blocking:2ms"),
            (wl::Window{wl::WindowKind::blocking, std::chrono::milliseconds(2)}));
  EXPECT_EQ(wl::parse_window("busy-250ns"),
            (wl::Window{wl::WindowKind::busy, std::chrono::nanoseconds(250)}));
  EXPECT_EQ(wl::parse_window("none"), wl::Window{});
  EXPECT_EQ(wl::parse_window("busy-0us"), wl::Window{});
  for (const char* bad : {"", "busy", "busy-", "busy-5", "busy-5s", "sleep-5us", "blocking-us",
                          "busy-99999999999us"}) {
    EXPECT_FALSE(wl::parse_window(bad).has_value()) << bad;
  }
  wl::CellConfig c;
  c.mutate_work = microseconds(3);
  EXPECT_EQ(wl::effective_window(c), (wl::Window{wl::WindowKind::busy, microseconds(3)}));
  c.window = wl::Window{wl::WindowKind::blocking, microseconds(10)};
  EXPECT_EQ(wl::effective_window(c), c.window);
}

// Every strategy with a busy and a blocking window: the invariant holds (checked inside
// run_cell), writes are sampled for latency, and a write never takes less than its
// window (the window runs inside every attempt, under the lock or in mutate).
TEST(WorkloadConcurrency, WindowsKeepTheInvariantAndShowInWriteLatency) {
  using std::chrono::microseconds;
  wl::Arena arena(4);
  for (const wl::Window window : {wl::Window{wl::WindowKind::busy, microseconds(2)},
                                  wl::Window{wl::WindowKind::blocking, microseconds(20)}}) {
    for (const wl::Strategy s :
         {wl::Strategy::full_jitter, wl::Strategy::adaptive, wl::Strategy::pessimistic}) {
      wl::CellConfig c;
      c.threads = 3;
      c.keys = 4;
      c.write_share = 0.5;
      c.strategy = s;
      c.window = window;
      c.latency_sample_every = 2;
      c.duration = std::chrono::milliseconds(20);
      const wl::CellResult r = wl::run_cell(c, arena);
      SCOPED_TRACE(std::string(wl::strategy_name(s)) + " " + wl::window_name(window));
      EXPECT_GT(r.writes, 0u);
      EXPECT_EQ(r.gave_up, 0u);
      EXPECT_GT(r.latency_samples, 0u);
      EXPECT_LE(r.latency_samples, r.committed);
      EXPECT_GE(r.write_latency_p50_ns, static_cast<double>(window.length.count()) * 0.97);
      EXPECT_LE(r.write_latency_p50_ns, r.write_latency_p99_ns);
      EXPECT_LE(r.write_latency_p99_ns, r.write_latency_p999_ns);
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
  c.keys = 4;
  c.latency_sample_every = 0;
  EXPECT_THROW(wl::run_cell(c, arena), std::invalid_argument);
}

}  // namespace
