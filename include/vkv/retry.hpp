// Retrying optimistic writes: policies, backoff delays, with_optimistic_retry.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

#include "vkv/errors.hpp"
#include "vkv/result.hpp"

namespace vkv {

enum class Jitter { none, full, equal, decorrelated };

struct RetryEvent {
  int attempt = 0;                   // 1 = first retry
  std::chrono::nanoseconds delay{};  // the wait before that retry
};

// How with_optimistic_retry and Store::update_with_retry back off after a conflict.
// Delays for retry n = 0, 1, 2, ... with b = retry_delay, c = max_delay,
// m = backoff_multiplier, e(n) = min(c, b * m^n) (saturating):
//   none: e(n); full: uniform(0, e(n)); equal: e(n)/2 + uniform(0, e(n)/2);
//   decorrelated: d(0) = min(c, b), d(n) = min(c, uniform(b, max(b, 3 * d(n-1)))).
// Ranges are closed, in nanoseconds.
struct RetryPolicy {
  // Retries after the first attempt; negative counts as 0.
  int max_retries = 3;
  // Base delay. 500 ns: see docs/benchmarks.md, "Retry defaults" (BM_RetryDefaults in
  // bench/contention_benchmark.cpp). On the 2-core VM the grid was flat within noise
  // (500 ns led one of its two runs); 500 ns is about one read-modify-write of this
  // store, a small fraction of a database's base since in-memory conflicts clear fast.
  std::chrono::nanoseconds retry_delay{std::chrono::nanoseconds(500)};
  double backoff_multiplier = 2.0;
  // Cap on any one delay. 50 us: the grid could not separate caps of 5-200 us; 50 us
  // keeps every wait below wait_for's sleep threshold (see "Retry defaults").
  std::chrono::nanoseconds max_delay{std::chrono::microseconds(50)};
  // Full jitter: the grid's four shapes tied within noise; full jitter spreads
  // simultaneous losers over [0, e(n)] (see "Retry defaults").
  Jitter jitter = Jitter::full;
  // Optional; called before each wait, on the retrying thread, outside any lock.
  std::function<void(const RetryEvent&)> on_retry{};
  // The starvation bound of Store::update_with_retry. After this many lost attempts of
  // one write, the writer takes its key's priority: until it commits (or throws), every
  // other update_with_retry of that key (or of a key sharing its priority stripe, one
  // of 1024) waits before its next attempt. The writer then loses at most once to what
  // was committed while it took the priority, and once per other writer thread whose
  // attempt was already under way: it commits within escalate_after + T + 1 attempts,
  // T = the threads writing the key through update_with_retry, itself included
  // (docs/design.md, "Progress and waiting"; tests/retry/starvation_test.cpp). A waiter gives
  // up after detail::kPriorityMaxWait (a holder blocked in its mutate must not deadlock
  // the key), so the bound assumes a holder's attempt takes less than that.
  // 0 or negative: never escalate (the bound is then max_retries alone).
  // 8: in the lab's sweeps nearly every write commits within 2 retries, so escalation
  // touches only the unlucky tail.
  int escalate_after = 8;
};

namespace detail {

// A fast per-thread pseudo-random source (xoshiro256**, seeded per thread from
// std::random_device and the thread's identity). Not for cryptography.
std::uint64_t thread_random() noexcept;
// Uniform in the closed range [low, high] (low <= high).
std::uint64_t uniform_closed(std::uint64_t low, std::uint64_t high) noexcept;

// e(n) = min(c, b * m^n), saturating, never negative.
std::chrono::nanoseconds exponential_delay(const RetryPolicy& policy, int retry) noexcept;

// Waits `delay` without overshooting short delays: sleeps the bulk of delays at or
// above the OS timer's reach (200 us) and finishes them like a short one; a short
// delay (or a long one's rest) is spun with the CPU's pause instruction while the
// machine has a core for every runnable thread, and yielded away when it does not
// (a spinning waiter would take the core from the thread it waits for). See
// WaitMode for how "oversubscribed" is detected.
void wait_for(std::chrono::nanoseconds delay) noexcept;

// How wait_for spends a delay below the sleep threshold.
//   adaptive (the default): spin while not oversubscribed, yield while oversubscribed;
//   spin / yield: always that way (benchmarks and tests compare them).
// Oversubscribed means either signal holds, both cheap to read:
//   1. at least as many threads are inside wait_for right now as this process may use
//      cores (sched_getaffinity, read once): the waiters alone fill every core, so the
//      thread that would make progress is not running;
//   2. this thread found itself descheduled (two clock reads of one spin more than
//      50 us apart) within the last 10 ms: the machine has more runnable threads than
//      cores, whoever they belong to (other processes included).
// Measured in bench/contention_benchmark.cpp: BM_WaitVictim (what waiters cost the
// thread they wait for: on the 2-core VM, 3 spinning waiters cut a worker's progress to
// 0.3x of no waiters, adaptive kept 0.8x; yielding kept more but overshot 2-20 us waits
// by 30-1500x) and BM_BackoffWait (whole contention cells per mode).
enum class WaitMode { adaptive, spin, yield };
// Process-wide; takes effect at the next wait. Safe to call from any thread.
void set_wait_mode(WaitMode mode) noexcept;
WaitMode wait_mode() noexcept;

// The inputs of the adaptive decision, and the decision itself (pure, for tests).
struct WaitSignals {
  unsigned waiting = 0;             // threads inside wait_for, this one included
  unsigned cores = 1;               // cores this process may run on
  bool recently_preempted = false;  // signal 2 above
};
enum class WaitStep { spin, yield, sleep };
// What wait_for does next with `remaining` of its delay left.
WaitStep choose_wait(std::chrono::nanoseconds remaining, WaitMode mode,
                     const WaitSignals& signals) noexcept;
// The signals as wait_for sees them now (waiting counts threads already inside it).
WaitSignals current_wait_signals() noexcept;

}  // namespace detail

namespace detail {

// The per-key priority of RetryPolicy::escalate_after: one bit per stripe, set while a
// writer that kept losing holds its stripe. Process-wide (stores share it: two keys of
// different stores in one stripe only make each other wait, never wrong).
inline constexpr std::size_t kPriorityStripes = 1024;
struct alignas(64) PriorityBits {
  std::atomic<std::uint64_t> words[kPriorityStripes / 64];
};
inline PriorityBits g_priority{};

inline std::size_t priority_stripe(std::size_t hash) noexcept {
  return static_cast<std::size_t>((static_cast<std::uint64_t>(hash) * 0x9e3779b97f4a7c15ULL) >>
                                  54);  // the top 10 bits: 1024 stripes
}
inline bool priority_taken(std::size_t stripe) noexcept {
  // relaxed: a hint read on every write's fast path; a stale "free" lets one attempt
  // through (counted in the bound as an attempt under way), a stale "taken" sends this
  // writer to wait_for_priority, which re-reads with acquire.
  return (g_priority.words[stripe >> 6].load(std::memory_order_relaxed) >> (stripe & 63)) & 1u;
}
// Waits while another thread holds `stripe`'s priority, at most kPriorityMaxWait (then
// goes on: a holder blocked in user code must not deadlock the key). Returns at once if
// this thread holds it.
void wait_for_priority(std::size_t stripe) noexcept;
// Takes `stripe`'s priority, waiting (bounded as above) for a holder to finish; false if
// the wait gave up or this thread already holds it (a nested write of the same stripe).
bool take_priority(std::size_t stripe) noexcept;
void release_priority(std::size_t stripe) noexcept;
// Threads inside wait_for_priority or take_priority's wait now (tests watch it).
unsigned priority_waiters() noexcept;
// How long a writer waits for a priority holder before going on without.
inline constexpr std::chrono::milliseconds kPriorityMaxWait{50};

// One write's escalation: counts its losses and, at policy.escalate_after, holds its
// key's priority until destroyed (RAII: released on every path out of the write).
class Escalation {
 public:
  Escalation(const RetryPolicy& policy, std::size_t hash) noexcept
      : after_(policy.escalate_after), stripe_(priority_stripe(hash)) {}
  ~Escalation() {
    if (held_) release_priority(stripe_);
  }
  Escalation(const Escalation&) = delete;
  Escalation& operator=(const Escalation&) = delete;

  // Before an attempt that does not follow a loss (the first).
  void before_attempt() noexcept {
    if (!held_ && priority_taken(stripe_)) wait_for_priority(stripe_);
  }
  // After a lost attempt and its backoff, before the next attempt.
  void after_loss() noexcept {
    ++losses_;
    if (!held_ && after_ > 0 && losses_ >= after_) {
      held_ = take_priority(stripe_);
      if (held_) return;
    }
    before_attempt();
  }
  bool held() const noexcept { return held_; }

 private:
  int after_;
  int losses_ = 0;
  std::size_t stripe_;
  bool held_ = false;
};

}  // namespace detail

// The delays of one retry loop, per RetryPolicy's formulas. Keeps the state the
// decorrelated formula needs.
//
// Thread safety: one Backoff per retry loop; not shared between threads.
class Backoff {
 public:
  explicit Backoff(const RetryPolicy& policy) noexcept : policy_(&policy) {}

  // The delay before retry number `retries_done()` + 1 (n = retries_done()).
  std::chrono::nanoseconds next() noexcept;
  int retries_done() const noexcept { return retry_; }

 private:
  const RetryPolicy* policy_;
  int retry_ = 0;
  std::chrono::nanoseconds previous_{0};
};

namespace detail {
template <class R>
struct is_result : std::false_type {};
template <class R>
struct is_result<Result<R>> : std::true_type {};

inline int retry_budget(const RetryPolicy& policy) noexcept {
  return policy.max_retries < 0 ? 0 : policy.max_retries;
}

// Waits before a retry: reports it to on_retry, then waits.
inline void before_retry(const RetryPolicy& policy, Backoff& backoff) {
  const int attempt = backoff.retries_done() + 1;
  const std::chrono::nanoseconds delay = backoff.next();
  if (policy.on_retry) policy.on_retry(RetryEvent{attempt, delay});
  wait_for(delay);
}
}  // namespace detail

// Calls attempt(); while it throws OptimisticLockError (or returns a Result whose
// error() is Errc::conflict) and retries remain, waits and calls it again.
// Anything else, EntityNotFoundError included, goes straight to the caller. With
// retries spent, the last OptimisticLockError is rethrown (or the last conflict
// Result returned). attempts = max_retries + 1.
template <class F>
auto with_optimistic_retry(F&& attempt, const RetryPolicy& policy = {}) -> std::invoke_result_t<F> {
  using R = std::invoke_result_t<F>;
  const int retries = detail::retry_budget(policy);
  Backoff backoff(policy);
  for (;;) {
    if constexpr (detail::is_result<std::remove_cvref_t<R>>::value) {
      R result = std::invoke(attempt);
      if (result.ok() || result.error() != Errc::conflict || backoff.retries_done() >= retries) {
        return result;
      }
    } else {
      try {
        return std::invoke(attempt);
      } catch (const OptimisticLockError&) {
        if (backoff.retries_done() >= retries) throw;
      }
    }
    detail::before_retry(policy, backoff);
  }
}

}  // namespace vkv
