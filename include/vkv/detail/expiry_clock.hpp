// Internal (users never include this directly): the clock of expiry.
//
// Expiry stamps are std::chrono::steady_clock nanoseconds (Node::expires, 0 = never).
// Reading steady_clock costs ~30 ns on a VM with kvm-clock (about what a whole find
// costs), so "has this stamp passed?" first reads the coarse monotonic clock
// (CLOCK_MONOTONIC_COARSE, the same clock at the last timer tick: ~4 ns, resolution
// one tick, 4 ms here) and reads steady_clock only when the stamp is within
// kCoarseMargin of the coarse reading. The coarse clock never runs ahead of the
// precise one and lags it by at most a tick or two; kCoarseMargin (1 s) is far above
// that, so the answer is exactly steady_clock's at the instant of the call: a record
// is absent from the instant its stamp passes, never later, never earlier. On
// platforms without a coarse clock every check reads steady_clock.
//
// The test clock: expiry_clock_skew (0 unless a test moved it) is added to both clocks,
// so a test makes records expire at an exact point of a history by moving it forward
// (advance_expiry_clock), without waiting for real time. It only ever grows, so the
// clocks stay monotonic. Costs one relaxed load per clock read, and the clocks are read
// only for records that carry a stamp.
//
// Thread safety: functions of the clocks; advance_expiry_clock may run concurrently with
// them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace vkv::detail {

// Nanoseconds added to steady_clock for expiry, process-wide (tests only move it).
inline constinit std::atomic<std::int64_t> expiry_clock_skew{0};

// Moves expiry's clock forward by `by` (tests: expire records deterministically).
// relaxed: a thread's own later clock reads see it (read-read coherence); another
// thread sees it at some point, like any clock that moves while it runs.
inline void advance_expiry_clock(std::chrono::nanoseconds by) noexcept {
  if (by.count() > 0) expiry_clock_skew.fetch_add(by.count(), std::memory_order_relaxed);
}

// relaxed: see advance_expiry_clock.
inline std::int64_t clock_skew() noexcept {
  return expiry_clock_skew.load(std::memory_order_relaxed);
}

inline std::int64_t precise_now() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
             .count() +
         clock_skew();
}

#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
inline constexpr std::int64_t kCoarseMargin = 1'000'000'000;
// libstdc++'s and libc++'s steady_clock is CLOCK_MONOTONIC on Linux: same origin.
inline std::int64_t coarse_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec + clock_skew();
}
#else
inline constexpr std::int64_t kCoarseMargin = 0;
inline std::int64_t coarse_now() noexcept { return precise_now(); }
#endif

// Whether a stamp (0 = never) has passed, at the instant of the call.
inline bool stamp_passed(std::int64_t expires) noexcept {
  if (expires == 0) return false;
  // coarse <= precise now < coarse + kCoarseMargin: far from the stamp, no precise read.
  if (expires - kCoarseMargin > coarse_now()) return false;
  return expires <= precise_now();
}

// A lower bound of now, for sampling (active expiry, eviction): a stamp at or below it
// has certainly passed.
inline std::int64_t passed_bound() noexcept { return coarse_now(); }

}  // namespace vkv::detail
