// Internal (users never include this directly): contention-adaptive writes.
//
// With StoreOptions::contention_adaptive on, Store::update_with_retry notices keys whose
// recent conflict rate passes StoreOptions::contention_threshold and makes their
// writers take turns across the read..compare-and-swap of a write, so that they stop
// wasting work on attempts that are bound to fail. Everything else stays optimistic:
// cold keys never touch a turn, readers never do, and the compare-and-swap still
// decides every write (a turn is an optimisation, never what makes a write correct).
//
// Why a striped table of test-and-test-and-set turns with a bounded wait, not tickets:
// a ticket cannot be abandoned (a waiter that gives up would stall everyone behind it
// when its number comes up), and a FIFO hand-over to a preempted waiter convoys every
// writer of the key behind a thread that is not running, which is the common case on
// an oversubscribed machine. A waiter here spins briefly, then yields, and after
// kMaxWait gives up and writes optimistically, so a turn holder that blocks inside user
// code (mutate may call back into the store, even into the same key) can slow its key
// down but never deadlock it.
//
// Thread safety
//   Every member may be called from any thread at any time.
//
// Invariants:
//   1. A turn is held only across one attempt of update_with_retry (read, mutate,
//      compare-and-swap) and released on every path out of it, exceptions included
//      (Turn is RAII).
//   2. Nobody ever waits on a turn for longer than the bounded wait; a writer that
//      gave up proceeds without the turn. Hence no deadlock, whatever user code does.
//   3. The heat estimate is a heuristic: its updates are relaxed loads and stores
//      that may lose each other's effects under a race. Losing a sample changes when a
//      key counts as hot, never what a write does.
//   4. A stripe's heat is written only after a conflict or while it is non-zero (or
//      the stripe is hot), so an uncontended write only reads.
//   5. warm_ has one bit per stripe, set while the stripe is hot or its heat is
//      non-zero (a heuristic like the heat: a lost update of a bit delays noticing a
//      stripe by one conflict). A write of a cold key reads only that 128-byte bitmap,
//      which stays in cache; it never touches its stripe's own line (reading it costs
//      a cache miss per write: BM_Adaptive_ColdUpdateWithRetry in bench/contention_benchmark.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "vkv/detail/version_generator.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace vkv::detail {

class ContentionTable {
 public:
  // Fixed-point scale of the heat estimate: kScale is a conflict rate of 100 %.
  static constexpr std::uint32_t kScale = 1u << 16;
  // Weight of one sample in the exponentially weighted moving average: 1/64, so the
  // estimate follows about the last 64 attempts on the stripe. (With 1/16, two conflicts
  // in a row pass the 10 % threshold, so keys with a true conflict rate of 1-5 % keep
  // turning hot; docs/benchmarks.md.)
  static constexpr int kShift = 6;
  static constexpr std::size_t kStripes = 1024;

  explicit ContentionTable(double threshold, std::chrono::nanoseconds max_wait)
      : stripes_(new Stripe[kStripes]),
        enter_(to_fixed(threshold)),
        leave_(to_fixed(threshold) / 2),
        max_wait_(max_wait) {}

  // The stripe of a key's hash (the index uses the high bits of the same mix for the
  // shard, the low bits here).
  static std::size_t stripe_of(std::size_t hash) noexcept {
    return static_cast<std::size_t>(mix64(hash)) & (kStripes - 1);
  }

  // A held turn, or none. Releases on destruction.
  class Turn {
   public:
    Turn() noexcept = default;
    explicit Turn(std::atomic<bool>* flag) noexcept : flag_(flag) {}
    Turn(Turn&& other) noexcept : flag_(other.flag_) { other.flag_ = nullptr; }
    Turn& operator=(Turn&& other) noexcept {
      if (this != &other) {
        release();
        flag_ = other.flag_;
        other.flag_ = nullptr;
      }
      return *this;
    }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    ~Turn() { release(); }
    bool held() const noexcept { return flag_ != nullptr; }
    void release() noexcept {
      if (flag_ != nullptr) {
        // release: the holder's write happens-before the next holder's read, so the
        // next holder starts from the record this one installed.
        flag_->store(false, std::memory_order_release);
        flag_ = nullptr;
      }
    }

   private:
    std::atomic<bool>* flag_ = nullptr;
  };

  // Before an attempt: if the key's stripe is hot, wait (bounded) for its turn. The
  // returned Turn is empty when the stripe is cold or the wait gave up.
  Turn enter(std::size_t stripe) noexcept {
    if (!warm(stripe)) return Turn();  // invariant 5: the cold path reads the bitmap only
    Stripe& s = stripes_[stripe];
    // relaxed: a hint; a stale answer costs one optimistic attempt or one turn.
    if (!s.hot.load(std::memory_order_relaxed)) return Turn();
    // acquire on success: pairs with Turn::release (see there).
    bool contended = s.busy.load(std::memory_order_relaxed);
    if (!contended && !s.busy.exchange(true, std::memory_order_acquire)) {
      sample(stripe, false);
      return Turn(&s.busy);
    }
    // Someone else holds the turn. Not a sample: waiting says that writers overlap, not
    // that their optimistic attempts would fail (counting it as a conflict kept every
    // busy key hot for good, though its writes conflicted 1-5 % of the time).
    const auto deadline = std::chrono::steady_clock::now() + max_wait_;
    unsigned spins = 0;
    for (;;) {
      if (!s.busy.load(std::memory_order_relaxed) &&
          !s.busy.exchange(true, std::memory_order_acquire)) {
        return Turn(&s.busy);
      }
      if (++spins < 32) {
        relax();
      } else {
        // Past a short spin the holder is probably not running (or is inside slow user
        // code): give the core away, and give up at the deadline.
        std::this_thread::yield();
        if ((spins & 7) == 0 && std::chrono::steady_clock::now() >= deadline) return Turn();
      }
    }
  }

  // After an optimistic attempt (no turn held): feed its outcome to the estimate.
  void record(std::size_t stripe, bool conflict) noexcept {
    if (!conflict && !warm(stripe)) return;  // invariants 4 and 5
    Stripe& s = stripes_[stripe];
    if (!conflict && s.heat.load(std::memory_order_relaxed) == 0 &&
        !s.hot.load(std::memory_order_relaxed)) {
      return;
    }
    sample(stripe, conflict);
  }

  bool is_hot(std::size_t stripe) const noexcept {
    return stripes_[stripe].hot.load(std::memory_order_relaxed);
  }
  std::uint32_t heat(std::size_t stripe) const noexcept {
    return stripes_[stripe].heat.load(std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Stripe {
    // All relaxed (invariant 3): a moving average of "this attempt conflicted", in
    // units of 1/kScale.
    std::atomic<std::uint32_t> heat{0};
    // Whether writers of this stripe take turns. Set when heat passes the threshold,
    // cleared when it falls below half of it (hysteresis against flapping).
    std::atomic<bool> hot{false};
    // The turn itself: true while held.
    std::atomic<bool> busy{false};
  };

  static std::uint32_t to_fixed(double rate) noexcept {
    if (!(rate > 0)) return 0;
    if (rate >= 1) return kScale;
    return static_cast<std::uint32_t>(rate * kScale);
  }

  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
  }

  bool warm(std::size_t stripe) const noexcept {
    // relaxed: a hint (invariant 5).
    return (warm_[stripe / 64].load(std::memory_order_relaxed) >> (stripe % 64)) & 1;
  }

  void sample(std::size_t stripe, bool contended) noexcept {
    Stripe& s = stripes_[stripe];
    // relaxed load and store, not a read-modify-write: invariant 3.
    const std::uint32_t old = s.heat.load(std::memory_order_relaxed);
    const std::uint32_t target = contended ? kScale : 0;
    std::uint32_t next = old;
    if (target > old) {
      next = old + ((target - old + (1u << kShift) - 1) >> kShift);
    } else {
      next = old - ((old - target + (1u << kShift) - 1) >> kShift);
    }
    if (next != old) s.heat.store(next, std::memory_order_relaxed);
    const bool hot = s.hot.load(std::memory_order_relaxed);
    bool now_hot = hot;
    if (!hot && next > enter_) {
      now_hot = true;
      s.hot.store(true, std::memory_order_relaxed);
    } else if (hot && next < leave_) {
      now_hot = false;
      s.hot.store(false, std::memory_order_relaxed);
    }
    // The bitmap changes only when the stripe turns warm or fully cold: rare
    // read-modify-writes (relaxed, invariant 5) on a line that is otherwise only read.
    const bool was_warm = warm(stripe);
    const bool now_warm = now_hot || next != 0;
    const std::uint64_t bit = std::uint64_t{1} << (stripe % 64);
    if (now_warm && !was_warm) {
      warm_[stripe / 64].fetch_or(bit, std::memory_order_relaxed);
    } else if (!now_warm && was_warm) {
      warm_[stripe / 64].fetch_and(~bit, std::memory_order_relaxed);
    }
  }

  std::unique_ptr<Stripe[]> stripes_;
  // One bit per stripe: hot, or heat non-zero (invariant 5). Its own lines.
  alignas(64) std::atomic<std::uint64_t> warm_[kStripes / 64] = {};
  std::uint32_t enter_;
  std::uint32_t leave_;
  std::chrono::nanoseconds max_wait_;
};

}  // namespace vkv::detail
