// Backoff delays, the per-thread random source and short waits.
#include "vkv/retry.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <functional>
#include <random>
#include <thread>

#include "vkv/detail/random.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

namespace vkv {

namespace detail {

namespace {

__extension__ typedef unsigned __int128 uint128;  // GCC/Clang extension, silenced for -Wpedantic

// A per-thread seed: the thread's identity, an address of its own, the time and, where
// there is one, the entropy device.
std::uint64_t entropy_seed(const void* where) noexcept {
  std::uint64_t seed =
      std::hash<std::thread::id>()(std::this_thread::get_id()) ^
      static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(where)) ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    std::random_device device;
    seed ^= (static_cast<std::uint64_t>(device()) << 32) | device();
  } catch (...) {
    // No entropy device: the thread identity, address and time above still differ.
  }
  return seed;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Sleeping for less than this overshoots by about the timer slack (50 us by default
// on Linux), so shorter waits spin and yield instead.
constexpr std::chrono::nanoseconds kSleepThreshold = std::chrono::microseconds(200);
constexpr std::chrono::nanoseconds kSleepMargin = std::chrono::microseconds(100);
// Two clock reads of one spin further apart than this mean the thread was descheduled
// in between (a spin iteration takes well under a microsecond).
constexpr std::chrono::nanoseconds kPreemptionGap = std::chrono::microseconds(50);
// How long one observed preemption counts as "the machine is oversubscribed".
constexpr std::chrono::nanoseconds kPreemptionMemory = std::chrono::milliseconds(10);

// relaxed: a mode switch only needs to be seen eventually; it orders nothing.
std::atomic<WaitMode> g_wait_mode{WaitMode::adaptive};
// Threads inside wait_for now. relaxed: a heuristic count (signal 1); a stale value
// costs one wait spent the other way. Its own line, so the increments of waiters do
// not slow the readers of anything else.
alignas(64) std::atomic<unsigned> g_waiting{0};

unsigned usable_cores() noexcept {
  static const unsigned cores = [] {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      const int count = CPU_COUNT(&set);
      if (count > 0) return static_cast<unsigned>(count);
    }
#endif
    const unsigned hardware = std::thread::hardware_concurrency();
    return hardware > 0 ? hardware : 1u;
  }();
  return cores;
}

// When this thread last found itself descheduled mid-spin (signal 2); epoch = never.
thread_local std::chrono::steady_clock::time_point t_preempted_at{};

bool recently_preempted(std::chrono::steady_clock::time_point now) noexcept {
  return t_preempted_at != std::chrono::steady_clock::time_point{} &&
         now - t_preempted_at < kPreemptionMemory;
}

// Counts this thread among the waiters for its lifetime.
class WaiterCount {
 public:
  WaiterCount() noexcept : waiting_(g_waiting.fetch_add(1, std::memory_order_relaxed) + 1) {}
  ~WaiterCount() { g_waiting.fetch_sub(1, std::memory_order_relaxed); }
  WaiterCount(const WaiterCount&) = delete;
  WaiterCount& operator=(const WaiterCount&) = delete;
  unsigned waiting() const noexcept { return waiting_; }

 private:
  unsigned waiting_;
};

}  // namespace

std::uint64_t thread_random() noexcept {
  thread_local Xoshiro256 generator(entropy_seed(&generator));
  return generator.next();
}

std::uint64_t uniform_closed(std::uint64_t low, std::uint64_t high) noexcept {
  const std::uint64_t span = high - low;
  if (span == ~std::uint64_t{0}) return thread_random();
  // Lemire's multiply-shift with rejection: unbiased.
  const std::uint64_t range = span + 1;
  uint128 product = static_cast<uint128>(thread_random()) * range;
  auto fraction = static_cast<std::uint64_t>(product);
  if (fraction < range) {
    const std::uint64_t threshold = (0 - range) % range;
    while (fraction < threshold) {
      product = static_cast<uint128>(thread_random()) * range;
      fraction = static_cast<std::uint64_t>(product);
    }
  }
  return low + static_cast<std::uint64_t>(product >> 64);
}

std::chrono::nanoseconds exponential_delay(const RetryPolicy& policy, int retry) noexcept {
  const std::int64_t cap = std::max<std::int64_t>(0, policy.max_delay.count());
  const std::int64_t base = std::max<std::int64_t>(0, policy.retry_delay.count());
  if (base == 0) return std::chrono::nanoseconds(0);
  // Exact integer doubling for the usual multiplier of 2 (no rounding from pow()).
  if (policy.backoff_multiplier == 2.0 && retry >= 0) {
    // base << retry stays below 2^63 while retry < countl_zero(base).
    if (retry >= std::countl_zero(static_cast<std::uint64_t>(base))) {
      return std::chrono::nanoseconds(cap);
    }
    const std::int64_t value = base << retry;
    return std::chrono::nanoseconds(std::min(value, cap));
  }
  const double value = static_cast<double>(base) * std::pow(policy.backoff_multiplier, retry);
  // Saturate: NaN, infinities and anything at or past the cap become the cap itself
  // (converting a double of 2^63 back to int64 would overflow, so compare, never cast, there).
  if (!(value < static_cast<double>(cap))) return std::chrono::nanoseconds(cap);
  if (!(value > 0)) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(std::min(cap, static_cast<std::int64_t>(value)));
}

void set_wait_mode(WaitMode mode) noexcept { g_wait_mode.store(mode, std::memory_order_relaxed); }
WaitMode wait_mode() noexcept { return g_wait_mode.load(std::memory_order_relaxed); }

WaitStep choose_wait(std::chrono::nanoseconds remaining, WaitMode mode,
                     const WaitSignals& signals) noexcept {
  if (remaining >= kSleepThreshold) return WaitStep::sleep;
  switch (mode) {
    case WaitMode::spin:
      return WaitStep::spin;
    case WaitMode::yield:
      return WaitStep::yield;
    case WaitMode::adaptive:
      break;
  }
  const bool oversubscribed = signals.waiting >= signals.cores || signals.recently_preempted;
  return oversubscribed ? WaitStep::yield : WaitStep::spin;
}

WaitSignals current_wait_signals() noexcept {
  WaitSignals signals;
  signals.waiting = g_waiting.load(std::memory_order_relaxed);
  signals.cores = usable_cores();
  signals.recently_preempted = recently_preempted(std::chrono::steady_clock::now());
  return signals;
}

void wait_for(std::chrono::nanoseconds delay) noexcept {
  using Clock = std::chrono::steady_clock;
  if (delay.count() <= 0) return;
  const WaiterCount count;
  const WaitMode mode = wait_mode();
  const unsigned cores = usable_cores();
  auto now = Clock::now();
  // Saturate: now + nanoseconds::max() would overflow the clock's representation.
  const auto deadline =
      delay < Clock::time_point::max() - now ? now + delay : Clock::time_point::max();
  if (choose_wait(delay, mode, {}) == WaitStep::sleep) {
    std::this_thread::sleep_for(delay - kSleepMargin);
    now = Clock::now();
  }
  // The waiter count is read once per wait (it is taken on entry): cheap, and a wait
  // is short. Preemption is watched on every step.
  WaitSignals signals{count.waiting(), cores, recently_preempted(now)};
  while (now < deadline) {
    switch (choose_wait(deadline - now, mode, signals)) {
      case WaitStep::yield:
        // A runnable thread (the one we wait for, or anyone's) gets the core; with
        // none, sched_yield returns at once and this loop spins on the syscall.
        std::this_thread::yield();
        break;
      case WaitStep::spin:
      case WaitStep::sleep:  // unreachable: the rest is below the sleep threshold
        for (int i = 0; i < 16; ++i) cpu_relax();
        break;
    }
    const auto later = Clock::now();
    if (later - now > kPreemptionGap) {
      // Descheduled: somebody else needed this core. Remember it (signal 2), and
      // yield the rest of this wait in adaptive mode.
      t_preempted_at = later;
      signals.recently_preempted = true;
    }
    now = later;
  }
}

namespace {

// relaxed: a count for tests and diagnostics; it orders nothing.
std::atomic<unsigned> g_priority_waiters{0};

// The stripes this thread holds (nested writes may hold a few); a thread never waits
// for a priority it holds itself.
struct HeldStripes {
  static constexpr int kMax = 4;
  std::size_t stripes[kMax];
  int count = 0;
  bool holds(std::size_t stripe) const noexcept {
    return std::find(stripes, stripes + count, stripe) != stripes + count;
  }
};
thread_local HeldStripes t_held;

std::atomic<std::uint64_t>& word_of(std::size_t stripe) noexcept {
  return g_priority.words[stripe >> 6];
}
std::uint64_t bit_of(std::size_t stripe) noexcept { return std::uint64_t{1} << (stripe & 63); }

// Waits until the bit is clear or the deadline passed; false at the deadline.
bool wait_until_free(std::size_t stripe, std::chrono::steady_clock::time_point deadline) noexcept {
  g_priority_waiters.fetch_add(1, std::memory_order_relaxed);
  bool free = false;
  for (unsigned spins = 0;; ++spins) {
    // acquire: pairs with release_priority, so a writer that goes on after the holder
    // is done reads what the holder committed.
    if ((word_of(stripe).load(std::memory_order_acquire) & bit_of(stripe)) == 0) {
      free = true;
      break;
    }
    if (spins < 64) {
      cpu_relax();
      continue;
    }
    // The holder is mid-attempt (its mutate, its window): give it the core.
    std::this_thread::yield();
    if ((spins & 7) == 0 && std::chrono::steady_clock::now() >= deadline) break;
  }
  g_priority_waiters.fetch_sub(1, std::memory_order_relaxed);
  return free;
}

}  // namespace

void wait_for_priority(std::size_t stripe) noexcept {
  if (t_held.holds(stripe)) return;
  (void)wait_until_free(stripe, std::chrono::steady_clock::now() + kPriorityMaxWait);
}

bool take_priority(std::size_t stripe) noexcept {
  if (t_held.holds(stripe) || t_held.count == HeldStripes::kMax) return false;
  const auto deadline = std::chrono::steady_clock::now() + kPriorityMaxWait;
  for (;;) {
    // acquire: as in wait_until_free (the previous holder's commits happen-before).
    const std::uint64_t before =
        word_of(stripe).fetch_or(bit_of(stripe), std::memory_order_acquire);
    if ((before & bit_of(stripe)) == 0) {
      t_held.stripes[t_held.count++] = stripe;
      return true;
    }
    if (!wait_until_free(stripe, deadline)) return false;
  }
}

void release_priority(std::size_t stripe) noexcept {
  // release: the holder's commit happens-before whoever waited for it goes on.
  word_of(stripe).fetch_and(~bit_of(stripe), std::memory_order_release);
  auto* end = t_held.stripes + t_held.count;
  auto* at = std::find(t_held.stripes, end, stripe);
  if (at != end) {
    *at = end[-1];
    --t_held.count;
  }
}

unsigned priority_waiters() noexcept { return g_priority_waiters.load(std::memory_order_relaxed); }

}  // namespace detail

std::chrono::nanoseconds Backoff::next() noexcept {
  const RetryPolicy& policy = *policy_;
  const int n = retry_++;
  const auto cap = std::chrono::nanoseconds(std::max<std::int64_t>(0, policy.max_delay.count()));
  const auto base = std::chrono::nanoseconds(std::max<std::int64_t>(0, policy.retry_delay.count()));
  std::chrono::nanoseconds delay{0};
  switch (policy.jitter) {
    case Jitter::none:
      delay = detail::exponential_delay(policy, n);
      break;
    case Jitter::full: {
      const auto e = detail::exponential_delay(policy, n);
      delay = std::chrono::nanoseconds(
          detail::uniform_closed(0, static_cast<std::uint64_t>(e.count())));
      break;
    }
    case Jitter::equal: {
      // e/2 + uniform(0, e/2) over the reals is [e/2, e]; in whole nanoseconds that is
      // [ceil(e/2), e], so an odd e never yields a delay below e/2.
      const auto e = static_cast<std::uint64_t>(detail::exponential_delay(policy, n).count());
      const std::uint64_t low = e - e / 2;
      delay = std::chrono::nanoseconds(detail::uniform_closed(low, e));
      break;
    }
    case Jitter::decorrelated: {
      if (n == 0) {
        delay = std::min(cap, base);
      } else {
        const auto b = static_cast<std::uint64_t>(base.count());
        // 3 * d(n-1), saturating.
        const auto prev = static_cast<std::uint64_t>(previous_.count());
        const std::uint64_t tripled = prev > ~std::uint64_t{0} / 3 ? ~std::uint64_t{0} : prev * 3;
        const std::uint64_t high = std::max(b, tripled);
        const std::uint64_t drawn = detail::uniform_closed(b, high);
        delay = std::chrono::nanoseconds(static_cast<std::int64_t>(
            std::min<std::uint64_t>(static_cast<std::uint64_t>(cap.count()), drawn)));
      }
      break;
    }
  }
  previous_ = delay;
  return delay;
}

}  // namespace vkv
