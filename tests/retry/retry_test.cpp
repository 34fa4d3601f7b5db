// with_optimistic_retry, Backoff's delay formulas, detail::wait_for and
// Store::update_with_retry (in both the optimistic and the contention-adaptive mode).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

vkv::OptimisticLockError conflict_error(int attempt) {
  return vkv::OptimisticLockError("Thing", "attempt-" + std::to_string(attempt), vkv::Version(),
                                  vkv::Version());
}

vkv::ErrorInfo conflict_info(int attempt) {
  vkv::ErrorInfo info;
  info.code = vkv::Errc::conflict;
  info.entity_type = "Thing";
  info.entity_id = "attempt-" + std::to_string(attempt);
  return info;
}

// Retries that do not wait: keeps the attempt-count tests instant.
vkv::RetryPolicy instant(int max_retries) {
  vkv::RetryPolicy policy;
  policy.max_retries = max_retries;
  policy.retry_delay = nanoseconds(0);
  policy.jitter = vkv::Jitter::none;
  return policy;
}

// ---- with_optimistic_retry: attempts and what is retried ----

class AttemptCount : public ::testing::TestWithParam<int> {};

TEST_P(AttemptCount, ThrowingAttemptRunsMaxRetriesPlusOneTimesAndRethrowsTheLast) {
  const int max_retries = GetParam();
  int calls = 0;
  try {
    vkv::with_optimistic_retry([&]() -> int { throw conflict_error(++calls); },
                               instant(max_retries));
    FAIL() << "expected OptimisticLockError";
  } catch (const vkv::OptimisticLockError& e) {
    const int expected_calls = std::max(0, max_retries) + 1;
    EXPECT_EQ(calls, expected_calls);
    // The last conflict, not the first.
    EXPECT_EQ(e.entity_id(), "attempt-" + std::to_string(expected_calls));
  }
}

TEST_P(AttemptCount, ResultAttemptRunsMaxRetriesPlusOneTimesAndReturnsTheLast) {
  const int max_retries = GetParam();
  int calls = 0;
  const vkv::Result<int> result = vkv::with_optimistic_retry(
      [&] {
        ++calls;
        return vkv::Result<int>(conflict_info(calls), 1000 + calls);
      },
      instant(max_retries));
  const int expected_calls = std::max(0, max_retries) + 1;
  EXPECT_EQ(calls, expected_calls);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::conflict);
  ASSERT_TRUE(result.current().has_value());
  EXPECT_EQ(*result.current(), 1000 + expected_calls);
}

INSTANTIATE_TEST_SUITE_P(MaxRetries, AttemptCount, ::testing::Values(-5, -1, 0, 1, 3, 7));

TEST(WithOptimisticRetry, SucceedsAfterConflictsAndReturnsTheValue) {
  int calls = 0;
  const int value = vkv::with_optimistic_retry(
      [&] {
        if (++calls < 3) throw conflict_error(calls);
        return 42;
      },
      instant(5));
  EXPECT_EQ(value, 42);
  EXPECT_EQ(calls, 3);
}

TEST(WithOptimisticRetry, ResultSucceedsAfterConflicts) {
  int calls = 0;
  const vkv::Result<int> result = vkv::with_optimistic_retry(
      [&] { return ++calls < 4 ? vkv::Result<int>(conflict_info(calls)) : vkv::Result<int>(7); },
      instant(5));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value(), 7);
  EXPECT_EQ(calls, 4);
}

TEST(WithOptimisticRetry, EntityNotFoundGoesStraightThrough) {
  int calls = 0;
  EXPECT_THROW(vkv::with_optimistic_retry(
                   [&]() -> int {
                     ++calls;
                     throw vkv::EntityNotFoundError("Thing", "x");
                   },
                   instant(5)),
               vkv::EntityNotFoundError);
  EXPECT_EQ(calls, 1);
}

TEST(WithOptimisticRetry, OtherExceptionsGoStraightThrough) {
  int calls = 0;
  EXPECT_THROW(vkv::with_optimistic_retry(
                   [&]() -> int {
                     ++calls;
                     throw std::runtime_error("boom");
                   },
                   instant(5)),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_THROW(vkv::with_optimistic_retry(
                   [&]() -> int {
                     ++calls;
                     throw vkv::DuplicateKeyError("Thing", "x");
                   },
                   instant(5)),
               vkv::DuplicateKeyError);
  EXPECT_EQ(calls, 1);
}

TEST(WithOptimisticRetry, OtherErrcGoStraightThrough) {
  for (const vkv::Errc code : {vkv::Errc::not_found, vkv::Errc::duplicate_key}) {
    int calls = 0;
    vkv::ErrorInfo info;
    info.code = code;
    const vkv::Result<int> result = vkv::with_optimistic_retry(
        [&] {
          ++calls;
          return vkv::Result<int>(info);
        },
        instant(5));
    EXPECT_EQ(calls, 1);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error(), code);
  }
}

TEST(WithOptimisticRetry, OnRetryReportsAttemptsAndTheDelaysWaited) {
  vkv::RetryPolicy policy;
  policy.max_retries = 4;
  policy.retry_delay = nanoseconds(10);
  policy.backoff_multiplier = 3.0;
  policy.max_delay = nanoseconds(200);
  policy.jitter = vkv::Jitter::none;
  std::vector<vkv::RetryEvent> events;
  policy.on_retry = [&](const vkv::RetryEvent& e) { events.push_back(e); };
  int calls = 0;
  EXPECT_THROW(vkv::with_optimistic_retry([&]() -> int { throw conflict_error(++calls); }, policy),
               vkv::OptimisticLockError);
  EXPECT_EQ(calls, 5);
  ASSERT_EQ(events.size(), 4u);
  const std::int64_t expected[] = {10, 30, 90, 200};
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].attempt, static_cast<int>(i) + 1);
    EXPECT_EQ(events[i].delay.count(), expected[i]) << "retry " << i;
  }
}

TEST(WithOptimisticRetry, NoOnRetryWhenTheFirstAttemptSucceeds) {
  vkv::RetryPolicy policy = instant(3);
  int events = 0;
  policy.on_retry = [&](const vkv::RetryEvent&) { ++events; };
  EXPECT_EQ(vkv::with_optimistic_retry([] { return 1; }, policy), 1);
  EXPECT_EQ(events, 0);
}

// ---- Backoff: the formulas ----

std::vector<std::int64_t> delays(const vkv::RetryPolicy& policy, int n) {
  vkv::Backoff backoff(policy);
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(backoff.next().count());
  return out;
}

vkv::RetryPolicy shaped(std::int64_t base_ns, double multiplier, std::int64_t cap_ns,
                        vkv::Jitter jitter) {
  vkv::RetryPolicy policy;
  policy.retry_delay = nanoseconds(base_ns);
  policy.backoff_multiplier = multiplier;
  policy.max_delay = nanoseconds(cap_ns);
  policy.jitter = jitter;
  return policy;
}

TEST(Backoff, NoJitterIsTheExponentialCappedAtMaxDelay) {
  EXPECT_EQ(
      delays(shaped(500, 2.0, 50'000, vkv::Jitter::none), 10),
      (std::vector<std::int64_t>{500, 1000, 2000, 4000, 8000, 16000, 32000, 50000, 50000, 50000}));
  EXPECT_EQ(delays(shaped(1000, 1.5, 1'000'000, vkv::Jitter::none), 5),
            (std::vector<std::int64_t>{1000, 1500, 2250, 3375, 5062}));
  EXPECT_EQ(delays(shaped(1000, 0.5, 1'000'000, vkv::Jitter::none), 4),
            (std::vector<std::int64_t>{1000, 500, 250, 125}));
  // Base above the cap: the cap from the start.
  EXPECT_EQ(delays(shaped(1000, 2.0, 300, vkv::Jitter::none), 3),
            (std::vector<std::int64_t>{300, 300, 300}));
  // Multiplier 1: constant.
  EXPECT_EQ(delays(shaped(700, 1.0, 10'000, vkv::Jitter::none), 3),
            (std::vector<std::int64_t>{700, 700, 700}));
}

TEST(Backoff, SaturatesWithoutOverflow) {
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  // Huge retry counts with m = 2 (shift path) and m = 10 (floating path), with the
  // cap at the largest representable delay: every value is the cap, never negative.
  for (const double m : {2.0, 10.0, 1e300}) {
    vkv::RetryPolicy policy = shaped(1'000'000'000, m, max, vkv::Jitter::none);
    for (const int n : {0, 1, 30, 62, 63, 64, 100, 1000, 1 << 30}) {
      const std::int64_t e = vkv::detail::exponential_delay(policy, n).count();
      EXPECT_GE(e, 0) << "m=" << m << " n=" << n;
      EXPECT_LE(e, max);
      if (n >= 64) {
        EXPECT_EQ(e, max) << "m=" << m << " n=" << n;
      }
    }
  }
  // Shift path right at its edge: 1 << 62 fits, 1 << 63 must saturate.
  vkv::RetryPolicy one = shaped(1, 2.0, max, vkv::Jitter::none);
  EXPECT_EQ(vkv::detail::exponential_delay(one, 62).count(), std::int64_t{1} << 62);
  EXPECT_EQ(vkv::detail::exponential_delay(one, 63).count(), max);
  // A small cap saturates a huge retry count exactly.
  vkv::RetryPolicy capped = shaped(3, 2.0, 12'345, vkv::Jitter::none);
  EXPECT_EQ(vkv::detail::exponential_delay(capped, 1'000'000).count(), 12'345);
  // Infinite and NaN growth saturate to the cap; negative or zero inputs give 0.
  EXPECT_EQ(vkv::detail::exponential_delay(shaped(5, INFINITY, 77, vkv::Jitter::none), 3).count(),
            77);
  EXPECT_EQ(vkv::detail::exponential_delay(shaped(5, NAN, 77, vkv::Jitter::none), 3).count(), 77);
  EXPECT_EQ(vkv::detail::exponential_delay(shaped(-5, 2.0, 77, vkv::Jitter::none), 3).count(), 0);
  EXPECT_EQ(vkv::detail::exponential_delay(shaped(5, 2.0, -1, vkv::Jitter::none), 3).count(), 0);
  // Full jitter over the whole int64 range stays in range.
  const vkv::RetryPolicy wide_policy = shaped(max, 2.0, max, vkv::Jitter::full);
  vkv::Backoff wide(wide_policy);
  for (int i = 0; i < 100; ++i) EXPECT_GE(wide.next().count(), 0);
}

// Draws `n` delays for retry `retry` (each from a fresh Backoff advanced to it).
std::vector<std::int64_t> draws_at(const vkv::RetryPolicy& policy, int retry, int n) {
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) {
    vkv::Backoff backoff(policy);
    for (int r = 0; r < retry; ++r) (void)backoff.next();
    out.push_back(backoff.next().count());
  }
  return out;
}

double mean(const std::vector<std::int64_t>& v) {
  double sum = 0;
  for (const std::int64_t x : v) sum += static_cast<double>(x);
  return sum / static_cast<double>(v.size());
}

// Fixed numbers of draws; the bounds are many standard deviations wide (a correct
// generator fails them with negligible probability) but a wrong range fails them.
constexpr std::size_t kDraws = 20000;

TEST(Backoff, FullJitterIsUniformOnZeroToE) {
  const vkv::RetryPolicy policy = shaped(1000, 2.0, 1'000'000, vkv::Jitter::full);
  for (const int retry : {0, 3, 12}) {
    const std::int64_t e = vkv::detail::exponential_delay(policy, retry).count();
    const std::vector<std::int64_t> v = draws_at(policy, retry, static_cast<int>(kDraws));
    EXPECT_GE(*std::min_element(v.begin(), v.end()), 0);
    EXPECT_LE(*std::max_element(v.begin(), v.end()), e);
    // Mean e/2; its standard error is e/sqrt(12 * kDraws) ~ 0.2 % of e.
    EXPECT_NEAR(mean(v), static_cast<double>(e) / 2, 0.02 * static_cast<double>(e));
    // They vary: the lowest and highest tenth are both reached.
    EXPECT_LT(*std::min_element(v.begin(), v.end()), e / 10);
    EXPECT_GT(*std::max_element(v.begin(), v.end()), e - e / 10);
    // Distinct values: about min(e + 1, kDraws) of them; half is a loose floor.
    EXPECT_GT(std::set<std::int64_t>(v.begin(), v.end()).size(),
              std::min<std::size_t>(static_cast<std::size_t>(e) + 1, kDraws) / 2);
  }
}

TEST(Backoff, RangesAreClosed) {
  // e = 1: full jitter must give both 0 and 1.
  std::set<std::int64_t> full;
  for (const std::int64_t d : draws_at(shaped(1, 2.0, 1, vkv::Jitter::full), 0, 400)) {
    full.insert(d);
  }
  EXPECT_EQ(full, (std::set<std::int64_t>{0, 1}));
  // e = 4: equal jitter gives 2, 3 and 4.
  std::set<std::int64_t> equal;
  for (const std::int64_t d : draws_at(shaped(4, 2.0, 4, vkv::Jitter::equal), 0, 600)) {
    equal.insert(d);
  }
  EXPECT_EQ(equal, (std::set<std::int64_t>{2, 3, 4}));
  // e = 3 (odd): never below e/2 = 1.5, so {2, 3}.
  std::set<std::int64_t> odd;
  for (const std::int64_t d : draws_at(shaped(3, 2.0, 3, vkv::Jitter::equal), 0, 400)) {
    odd.insert(d);
  }
  EXPECT_EQ(odd, (std::set<std::int64_t>{2, 3}));
  // Decorrelated with b = 1: d(1) is uniform on [1, 3], every value reached.
  std::set<std::int64_t> decorrelated;
  for (const std::int64_t d : draws_at(shaped(1, 2.0, 1000, vkv::Jitter::decorrelated), 1, 600)) {
    decorrelated.insert(d);
  }
  EXPECT_EQ(decorrelated, (std::set<std::int64_t>{1, 2, 3}));
}

TEST(Backoff, EqualJitterIsUniformOnHalfEToE) {
  const vkv::RetryPolicy policy = shaped(1000, 2.0, 1'000'000, vkv::Jitter::equal);
  for (const int retry : {0, 4, 12}) {
    const std::int64_t e = vkv::detail::exponential_delay(policy, retry).count();
    const std::vector<std::int64_t> v = draws_at(policy, retry, static_cast<int>(kDraws));
    EXPECT_GE(*std::min_element(v.begin(), v.end()), e / 2);
    EXPECT_LE(*std::max_element(v.begin(), v.end()), e);
    EXPECT_NEAR(mean(v), 0.75 * static_cast<double>(e), 0.02 * static_cast<double>(e));
    EXPECT_LT(*std::min_element(v.begin(), v.end()), e / 2 + e / 20);
    EXPECT_GT(*std::max_element(v.begin(), v.end()), e - e / 20);
  }
}

TEST(Backoff, DecorrelatedFollowsItsRecurrence) {
  const std::int64_t b = 1000, c = 200'000;
  const vkv::RetryPolicy policy = shaped(b, 2.0, c, vkv::Jitter::decorrelated);
  std::vector<double> second;  // d(1) draws: uniform on [b, 3b]
  bool reached_cap = false;
  for (int run = 0; run < 2000; ++run) {
    vkv::Backoff backoff(policy);
    std::int64_t previous = backoff.next().count();
    EXPECT_EQ(previous, std::min(b, c));  // d(0) = min(c, b), no randomness
    for (int n = 1; n < 12; ++n) {
      const std::int64_t d = backoff.next().count();
      const std::int64_t high = std::min(c, std::max(b, 3 * previous));
      EXPECT_GE(d, std::min(b, c)) << "n=" << n;
      EXPECT_LE(d, high) << "n=" << n << " previous=" << previous;
      if (n == 1) second.push_back(static_cast<double>(d));
      reached_cap |= d == c;
      previous = d;
    }
  }
  double sum = 0;
  for (const double d : second) sum += d;
  // Mean of uniform(b, 3b) is 2b; standard error ~ 0.013 b over 2000 draws.
  EXPECT_NEAR(sum / static_cast<double>(second.size()), 2.0 * b, 0.1 * b);
  EXPECT_TRUE(reached_cap);  // the cap clamps: c is reached within 12 steps
  // The base above the cap: always the cap.
  EXPECT_EQ(delays(shaped(500, 2.0, 100, vkv::Jitter::decorrelated), 4),
            (std::vector<std::int64_t>{100, 100, 100, 100}));
}

// ---- wait_for ----

TEST(WaitFor, ShortWaitsDoNotOvershootByTensOfMicroseconds) {
  // A correctness bound, not a benchmark: a 2 us wait served by a sleep would take
  // 50+ us (timer slack). The minimum over 20 runs filters out preemption.
  auto best = nanoseconds::max();
  for (int i = 0; i < 20; ++i) {
    const auto began = std::chrono::steady_clock::now();
    vkv::detail::wait_for(microseconds(2));
    const auto took = std::chrono::steady_clock::now() - began;
    EXPECT_GE(took, microseconds(2)) << "wait_for returned early";
    best = std::min(best, std::chrono::duration_cast<nanoseconds>(took));
  }
  EXPECT_LT(best, microseconds(40));
}

TEST(WaitFor, ZeroAndNegativeReturnAtOnce) {
  auto best = nanoseconds::max();
  for (int i = 0; i < 20; ++i) {
    const auto began = std::chrono::steady_clock::now();
    vkv::detail::wait_for(nanoseconds(0));
    vkv::detail::wait_for(nanoseconds(-1'000'000'000));
    best = std::min(
        best, std::chrono::duration_cast<nanoseconds>(std::chrono::steady_clock::now() - began));
  }
  EXPECT_LT(best, microseconds(40));
}

TEST(WaitFor, LongWaitsWaitAtLeastTheDelay) {
  const auto began = std::chrono::steady_clock::now();
  vkv::detail::wait_for(microseconds(300));  // the sleep-then-spin path
  EXPECT_GE(std::chrono::steady_clock::now() - began, microseconds(300));
}

// Every wait mode honours the delay (never returns early), on both the short and the
// sleep-then-finish path, and the mode setting round-trips.
TEST(WaitFor, EveryModeWaitsAtLeastTheDelay) {
  using vkv::detail::WaitMode;
  for (const WaitMode mode : {WaitMode::spin, WaitMode::yield, WaitMode::adaptive}) {
    vkv::detail::set_wait_mode(mode);
    EXPECT_EQ(vkv::detail::wait_mode(), mode);
    for (const nanoseconds delay :
         {nanoseconds(700), nanoseconds(microseconds(5)), nanoseconds(microseconds(250))}) {
      const auto began = std::chrono::steady_clock::now();
      vkv::detail::wait_for(delay);
      EXPECT_GE(std::chrono::steady_clock::now() - began, delay)
          << "mode " << static_cast<int>(mode) << ", delay " << delay.count() << " ns";
    }
  }
  vkv::detail::set_wait_mode(WaitMode::adaptive);
}

// The adaptive decision: spin while every waiter has a core and nothing preempted this
// thread lately; yield otherwise; sleep whenever the rest reaches the sleep threshold,
// whatever the mode (an overshooting sleep is never used for a short delay).
TEST(WaitFor, ChooseWaitFollowsTheSignals) {
  using vkv::detail::choose_wait;
  using vkv::detail::WaitMode;
  using vkv::detail::WaitSignals;
  using vkv::detail::WaitStep;
  const nanoseconds short_wait = microseconds(3);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::adaptive, WaitSignals{1, 2, false}), WaitStep::spin);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::adaptive, WaitSignals{2, 2, false}), WaitStep::yield);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::adaptive, WaitSignals{7, 2, false}), WaitStep::yield);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::adaptive, WaitSignals{1, 16, true}), WaitStep::yield);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::adaptive, WaitSignals{3, 16, false}), WaitStep::spin);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::spin, WaitSignals{9, 2, true}), WaitStep::spin);
  EXPECT_EQ(choose_wait(short_wait, WaitMode::yield, WaitSignals{1, 16, false}), WaitStep::yield);
  for (const WaitMode mode : {WaitMode::spin, WaitMode::yield, WaitMode::adaptive}) {
    EXPECT_EQ(choose_wait(microseconds(200), mode, WaitSignals{1, 16, false}), WaitStep::sleep);
    EXPECT_EQ(choose_wait(nanoseconds(199'999), mode, WaitSignals{1, 16, false}) == WaitStep::sleep,
              false);
  }
}

// The waiter count (signal 1) counts threads inside wait_for and returns to zero once
// they all leave: 6 threads x 200 waits each, checked after join.
TEST(WaitForConcurrency, WaiterCountReturnsToZero) {
  ASSERT_EQ(vkv::detail::current_wait_signals().waiting, 0u);
  EXPECT_GE(vkv::detail::current_wait_signals().cores, 1u);
  std::atomic<int> waits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        vkv::detail::wait_for(nanoseconds(500 + 100 * (i % 7)));
        // relaxed: counted for the check after join(), which orders it.
        waits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(waits.load(), 6 * 200);
  EXPECT_EQ(vkv::detail::current_wait_signals().waiting, 0u);
}

// ---- Store::update_with_retry, with the contention-adaptive mode off and on ----

using Store = vkv::Store<int>;

vkv::StoreOptions store_options(bool adaptive) {
  vkv::StoreOptions options;
  options.entity_type = "Counter";
  options.contention_adaptive = adaptive;
  return options;
}

class UpdateWithRetry : public ::testing::TestWithParam<bool> {};

TEST_P(UpdateWithRetry, NotFoundBeforeTheFirstAttempt) {
  Store store(store_options(GetParam()));
  int calls = 0;
  EXPECT_THROW(store.update_with_retry("absent", [&](int&) { ++calls; }), vkv::EntityNotFoundError);
  const auto created = store.create("gone", 1);
  store.soft_delete("gone", created.version);
  EXPECT_THROW(store.update_with_retry("gone", [&](int&) { ++calls; }), vkv::EntityNotFoundError);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(store.stats().not_found, 2u);
  EXPECT_EQ(store.stats().retries, 0u);
}

TEST_P(UpdateWithRetry, NotFoundBetweenRetries) {
  for (const bool erase : {false, true}) {
    Store store(store_options(GetParam()));
    store.create("k", 1);
    int calls = 0;
    EXPECT_THROW(store.update_with_retry(
                     "k",
                     [&](int& v) {
                       ++calls;
                       ++v;
                       // Another writer deletes the record under us.
                       const auto now = store.find("k");
                       if (erase) {
                         store.erase("k", now->version);
                       } else {
                         store.soft_delete("k", now->version);
                       }
                     },
                     instant(5)),
                 vkv::EntityNotFoundError);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(store.stats().retries, 0u);
    const auto left = store.find("k", vkv::ReadOptions{true});
    EXPECT_EQ(left.has_value(), !erase);
    if (left) {
      EXPECT_EQ(left->value, 1);  // our increment never landed
    }
  }
}

TEST_P(UpdateWithRetry, ThrowingMutateChangesNothing) {
  Store store(store_options(GetParam()));
  const auto created = store.create("k", 5);
  const vkv::StoreStats before = store.stats();
  EXPECT_THROW(store.update_with_retry("k",
                                       [](int& v) {
                                         v = 99;
                                         throw std::runtime_error("no");
                                       }),
               std::runtime_error);
  const auto now = store.find("k");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->value, 5);
  EXPECT_EQ(now->version, created.version);
  EXPECT_EQ(now->revision, 1u);
  EXPECT_EQ(store.stats().writes, before.writes);
  EXPECT_EQ(store.stats().retries, 0u);
}

TEST_P(UpdateWithRetry, MutateThrowingOnARetryChangesNothingOfItsOwn) {
  Store store(store_options(GetParam()));
  store.create("k", 0);
  int calls = 0;
  EXPECT_THROW(store.update_with_retry(
                   "k",
                   [&](int& v) {
                     if (++calls == 2) throw std::runtime_error("second");
                     v += 100;
                     const auto now = store.find("k");
                     store.update_with_version("k", now->version, now->value + 1);
                   },
                   instant(5)),
               std::runtime_error);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(store.find("k")->value, 1);  // only the interfering write landed
  EXPECT_EQ(store.stats().retries, 1u);
}

TEST_P(UpdateWithRetry, RetriesContinueFromTheWinnerAndAreCounted) {
  Store store(store_options(GetParam()));
  store.create("k", 0);
  constexpr int kInterferences = 3;
  int calls = 0;
  std::vector<vkv::RetryEvent> events;
  vkv::RetryPolicy policy = instant(10);
  policy.on_retry = [&](const vkv::RetryEvent& e) { events.push_back(e); };
  const auto result = store.update_with_retry(
      "k",
      [&](int& v) {
        v += 1000;
        if (++calls <= kInterferences) {
          const auto now = store.find("k");
          store.update_with_version("k", now->version, now->value + 1);
        }
      },
      policy);
  EXPECT_EQ(calls, kInterferences + 1);
  // The final mutate saw every interfering write: 3 + 1000.
  EXPECT_EQ(result.value, kInterferences + 1000);
  EXPECT_EQ(result.revision, static_cast<std::uint64_t>(kInterferences) + 2);
  const vkv::StoreStats stats = store.stats();
  EXPECT_EQ(stats.retries, static_cast<std::uint64_t>(kInterferences));
  EXPECT_EQ(stats.conflicts, static_cast<std::uint64_t>(kInterferences));
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(kInterferences) + 1);
  EXPECT_EQ(stats.retries_exhausted, 0u);
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kInterferences));
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].attempt, int(i) + 1);
}

TEST_P(UpdateWithRetry, RetriesExhaustedThrowsTheLastConflict) {
  Store store(store_options(GetParam()));
  store.create("k", 0);
  int calls = 0;
  int conflicts_seen = 0;
  try {
    store.update_with_retry(
        "k",
        [&](int& v) {
          ++calls;
          ++v;
          const auto now = store.find("k");
          store.update_with_version("k", now->version, now->value + 10);
        },
        instant(2));
    FAIL() << "expected OptimisticLockError";
  } catch (const vkv::OptimisticLockError& e) {
    ++conflicts_seen;
    EXPECT_EQ(e.entity_type(), "Counter");
    EXPECT_EQ(e.entity_id(), "k");
    // The version that won is the record's current one: the last conflict.
    EXPECT_EQ(e.actual_version(), store.find("k")->version);
    EXPECT_NE(e.expected_version(), e.actual_version());
  }
  EXPECT_EQ(conflicts_seen, 1);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(store.find("k")->value, 30);  // only the interfering writes landed
  const vkv::StoreStats stats = store.stats();
  EXPECT_EQ(stats.retries, 2u);
  EXPECT_EQ(stats.retries_exhausted, 1u);
  EXPECT_EQ(stats.conflicts, 3u);
}

TEST_P(UpdateWithRetry, OnConflictSeesEveryFailedAttempt) {
  vkv::StoreOptions options = store_options(GetParam());
  int events = 0;
  options.on_conflict = [&](const vkv::ConflictEvent& e) {
    ++events;
    EXPECT_EQ(e.entity_id, "k");
  };
  Store store(std::move(options));
  store.create("k", 0);
  int calls = 0;
  store.update_with_retry(
      "k",
      [&](int&) {
        if (++calls <= 2) {
          const auto now = store.find("k");
          store.update_with_version("k", now->version, now->value + 1);
        }
      },
      instant(5));
  EXPECT_EQ(events, 2);
}

INSTANTIATE_TEST_SUITE_P(Modes, UpdateWithRetry, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Adaptive" : "Optimistic";
                         });

}  // namespace
