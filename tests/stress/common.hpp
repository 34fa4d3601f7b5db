// Shared helpers of the stress, fault and linearizability tests (tests only).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace vkv_test {

// Sanitized builds run every iteration count scaled down: TSan costs 5-15x, and the CI
// jobs run the whole concurrency suite under it on two cores.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// VKV_STRESS_SCALE multiplies iteration counts (e.g. 10 for a long local run).
inline double stress_scale() {
  const char* env = std::getenv("VKV_STRESS_SCALE");
  double scale = env ? std::atof(env) : 1.0;
  if (!(scale > 0)) scale = 1.0;
  return scale;
}

// `base` iterations scaled by VKV_STRESS_SCALE, divided by `sanitized_divisor` in
// sanitized builds, never below 1.
inline std::int64_t scaled(std::int64_t base, std::int64_t sanitized_divisor = 4) {
  double n = static_cast<double>(base) * stress_scale();
  if (kSanitized) n /= static_cast<double>(sanitized_divisor);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(n));
}

// A value type that counts its live instances, so a test can prove that every node
// the store allocated was freed.
class Counted {
 public:
  static std::int64_t live() {
    // acquire: pairs with the release decrements so that a zero seen after joining
    // and draining reflects every destructor that ran.
    return live_.load(std::memory_order_acquire);
  }

  Counted() noexcept : Counted(0) {}
  explicit Counted(std::int64_t v, std::string payload = {}) noexcept
      : value(v), payload(std::move(payload)) {
    // relaxed would do for the count itself; acq_rel keeps the reasoning local.
    live_.fetch_add(1, std::memory_order_acq_rel);
  }
  Counted(const Counted& o) : value(o.value), payload(o.payload) {
    live_.fetch_add(1, std::memory_order_acq_rel);
  }
  Counted(Counted&& o) noexcept : value(o.value), payload(std::move(o.payload)) {
    live_.fetch_add(1, std::memory_order_acq_rel);
  }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) noexcept = default;
  ~Counted() { live_.fetch_sub(1, std::memory_order_acq_rel); }

  friend bool operator==(const Counted& x, const Counted& y) {
    return x.value == y.value && x.payload == y.payload;
  }

  std::int64_t value = 0;
  std::string payload;  // makes copies allocate, so bad_alloc can hit them

 private:
  static inline std::atomic<std::int64_t> live_{0};
};

}  // namespace vkv_test
