// The starvation bound of Store::update_with_retry (RetryPolicy::escalate_after): a
// writer that an adversary makes lose every attempt still commits within
// escalate_after + T + 1 attempts (T = writer threads of the key), in every retry shape
// and in contention-adaptive mode; without escalation the same adversary starves it.
// Counted attempts only; no timing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

using Store = vkv::Store<std::string>;

// A UUID-length key; the value owns heap memory (longer than any small-string buffer).
const std::string kKey = "4f1c2a9e-7b3d-4e8a-9c61-0d2b5e7f8a13";
const std::string kPad(40, 'x');

std::string counter_value(std::uint64_t n) { return kPad + ":" + std::to_string(n); }
std::uint64_t counter_of(const std::string& value) {
  return std::stoull(value.substr(kPad.size() + 1));
}

struct Outcome {
  bool committed = false;
  int attempts = 0;  // the victim's mutate calls
};

// `adversaries` threads increment kKey in a loop; the victim's mutate waits, on each
// attempt, until an adversary has committed after the value it was given (so its
// compare-and-swap fails) or until every adversary waits for the victim's priority (so
// it cannot). Without the priority the victim never wins.
Outcome run_adversarial(vkv::Jitter jitter, bool adaptive, int escalate_after, int adversaries,
                        int max_retries) {
  vkv::StoreOptions options;
  options.contention_adaptive = adaptive;
  Store store(options);
  store.create(kKey, counter_value(0));
  vkv::RetryPolicy policy;
  policy.jitter = jitter;
  policy.max_retries = max_retries;
  policy.escalate_after = escalate_after;
  // seq_cst: the counts are the test's own synchronisation (simplest order to reason in).
  std::atomic<std::uint64_t> adversary_commits{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int a = 0; a < adversaries; ++a) {
    threads.emplace_back([&] {
      vkv::RetryPolicy fast = policy;
      fast.max_retries = 1'000'000;
      while (!done.load()) {
        store.update_with_retry(
            kKey, [](std::string& v) { v = counter_value(counter_of(v) + 1); }, fast);
        adversary_commits.fetch_add(1);
      }
    });
  }
  Outcome outcome;
  try {
    store.update_with_retry(
        kKey,
        [&](std::string& v) {
          ++outcome.attempts;
          // Until the record moved past what this attempt read (its compare-and-swap
          // is then bound to fail), or every adversary waits for the victim.
          const std::uint64_t read = counter_of(v);
          while (counter_of(store.find(kKey)->value) == read &&
                 vkv::detail::priority_waiters() < static_cast<unsigned>(adversaries)) {
            std::this_thread::yield();
          }
          v = counter_value(counter_of(v) + 1);
        },
        policy);
    outcome.committed = true;
  } catch (const vkv::OptimisticLockError&) {
    outcome.committed = false;
  }
  done.store(true);
  for (auto& thread : threads) thread.join();
  // Invariant: no update lost, none doubled.
  const auto record = store.find(kKey);
  EXPECT_TRUE(record.has_value());
  EXPECT_EQ(counter_of(record->value), adversary_commits.load() + (outcome.committed ? 1 : 0));
  return outcome;
}

struct Shape {
  vkv::Jitter jitter;
  bool adaptive;
  const char* name;
};
const Shape kShapes[] = {
    {vkv::Jitter::none, false, "exponential"},   {vkv::Jitter::full, false, "full-jitter"},
    {vkv::Jitter::equal, false, "equal-jitter"}, {vkv::Jitter::decorrelated, false, "decorrelated"},
    {vkv::Jitter::full, true, "adaptive"},
};

TEST(StarvationBound, LosingWriterCommitsWithinEscalateAfterPlusThreadsPlusOne) {
  constexpr int kEscalateAfter = 4;
  for (int adversaries : {1, 3}) {
    for (const Shape& shape : kShapes) {
      const Outcome outcome =
          run_adversarial(shape.jitter, shape.adaptive, kEscalateAfter, adversaries, 1000);
      EXPECT_TRUE(outcome.committed) << shape.name << ", " << adversaries << " adversaries";
      // T = adversaries + the victim; + 1: the first attempt after escalating may start
      // from a value read before it.
      EXPECT_LE(outcome.attempts, kEscalateAfter + (adversaries + 1) + 1)
          << shape.name << ", " << adversaries << " adversaries";
      // (Adaptive mode's turns may let it win earlier: a turn holder's rival waits.)
      if (!shape.adaptive) {
        EXPECT_GT(outcome.attempts, kEscalateAfter)
            << shape.name << ": the adversary made it lose until it escalated";
      }
    }
  }
}

// The same adversary without escalation: the victim loses every attempt it is allowed
// (what the bound above prevents; also shows the adversary is real).
TEST(StarvationBound, WithoutEscalationTheAdversaryStarvesTheWriter) {
  for (const Shape& shape : kShapes) {
    const Outcome outcome = run_adversarial(shape.jitter, shape.adaptive, 0, 1, 40);
    EXPECT_FALSE(outcome.committed) << shape.name;
    EXPECT_EQ(outcome.attempts, 41) << shape.name;
  }
}

// The default policy escalates (a positive escalate_after), and an escalation is
// released on every path: after the bounded write, another write of the key runs
// without waiting for anyone.
TEST(StarvationBound, DefaultEscalatesAndReleases) {
  EXPECT_GT(vkv::RetryPolicy{}.escalate_after, 0);
  const Outcome outcome = run_adversarial(vkv::Jitter::full, false, 2, 1, 1000);
  EXPECT_TRUE(outcome.committed);
  const std::size_t stripe = vkv::detail::priority_stripe(std::hash<std::string>{}(kKey));
  EXPECT_FALSE(vkv::detail::priority_taken(stripe));
  EXPECT_EQ(vkv::detail::priority_waiters(), 0u);
}

}  // namespace
