// Internal to vkv_workload: what the contention driver (workload.cpp) and the lab's
// scenarios (scenarios.cpp) share: the store under test, the pessimistic baseline's
// locked map of versioned records, the latency histogram, the end of a measured run and the
// splitmix64 step (vkv/detail/random.hpp).
#pragma once

#include <oneapi/tbb/concurrent_hash_map.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>
#include <vkv/vkv.hpp>

#include "vkv/detail/random.hpp"
#include "vkv/detail/version_generator.hpp"

namespace vkv::workload::detail {

using Clock = std::chrono::steady_clock;
using CounterStore = vkv::Store<std::uint64_t, std::uint64_t>;

// Ends a measured run: raises `stop`, joins the workers, returns the seconds since
// `began`. Relaxed: a worker only polls the flag between operations, and join()
// orders everything it wrote before the caller's reads.
inline double stop_and_join(std::atomic<bool>& stop, std::vector<std::thread>& workers,
                            Clock::time_point began) {
  stop.store(true, std::memory_order_relaxed);
  for (std::thread& worker : workers) worker.join();
  return std::chrono::duration<double>(Clock::now() - began).count();
}

using vkv::detail::splitmix64;  // vkv/detail/random.hpp

struct MixHashCompare {
  static std::size_t hash(std::uint64_t key) {
    return static_cast<std::size_t>(vkv::detail::mix64(key));
  }
  static bool equal(std::uint64_t a, std::uint64_t b) { return a == b; }
};
// The pessimistic baseline's record: what a vkv record holds (value, RFC 9562 version,
// revision), updated in place under the key's write lock. Every locked write draws a
// fresh version from the same generator vkv uses, as pessimistic locking in the seed
// (SELECT ... FOR UPDATE, then UPDATE ... SET version = new) still does: without it
// the baseline would not be a versioned store at all.
struct VersionedCounter {
  std::uint64_t value = 0;
  vkv::Version version;
  std::uint64_t revision = 1;
};
using LockedMap =
    tbb::concurrent_hash_map<std::uint64_t, VersionedCounter, MixHashCompare,
                             std::allocator<std::pair<const std::uint64_t, VersionedCounter>>>;
// Log-linear latency histogram: exact below 32 ns, then 32 sub-buckets per power of
// two (about 3 % resolution), up to 2^64 ns.
class Histogram {
 public:
  static constexpr std::size_t kSub = 32;
  static constexpr std::size_t kBuckets = kSub + 59 * kSub;

  void add(std::uint64_t value) noexcept {
    ++counts_[index(value)];
    ++total_;
    max_ = std::max(max_, value);
  }
  void merge(const Histogram& other) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }
  // The value below which a fraction q of the samples lie (bucket midpoint, at most
  // the largest sample).
  double quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      // A bucket's midpoint may lie above the largest sample: never report past it.
      if (seen >= std::max<std::uint64_t>(rank, 1)) {
        return std::min(midpoint(i), static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int width = std::bit_width(v);  // >= 6
    const int shift = width - 6;
    const std::uint64_t sub = (v >> shift) & (kSub - 1);
    return std::min(kBuckets - 1,
                    kSub + static_cast<std::size_t>(shift) * kSub + static_cast<std::size_t>(sub));
  }
  static double midpoint(std::size_t i) noexcept {
    if (i < kSub) return static_cast<double>(i);
    const std::size_t shift = (i - kSub) / kSub;
    const std::size_t sub = (i - kSub) % kSub;
    const double low = std::ldexp(static_cast<double>(kSub + sub), static_cast<int>(shift));
    const double width = std::ldexp(1.0, static_cast<int>(shift));
    return low + width / 2;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace vkv::workload::detail
