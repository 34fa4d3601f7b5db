// YCSB's request distributions: which record each request names, for the YCSB
// benchmarks (bench/) and `vkv-lab cache` (tools/vkv-lab/cache_lab.cpp).
//
// The Zipfian ranks come from the contention driver's generator (ZipfGenerator in
// workload.hpp: Gray et al., SIGMOD 1994, as YCSB's ZipfianGenerator; rank 0 is the
// hottest). YCSB's default "zipfian" request distribution is scrambled: it hashes the
// rank (FNV-1a 64) so hot records are spread over the key space rather than being the
// lowest keys; KeyChooser does the same. (YCSB draws the rank over 10^10 items and folds
// it; we draw over the record count directly, which keeps the skew of theta = 0.99 for
// that count.)
//
// Thread safety: one KeyChooser per thread; the ZipfGenerator it reads is shared
// read-only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "vkv/detail/random.hpp"
#include "workload/records.hpp"
#include "workload/workload.hpp"

namespace vkv::workload {

inline std::uint64_t fnv1a64(std::uint64_t value) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (int i = 0; i < 8; ++i) {
    hash ^= value & 0xff;
    hash *= 0x100000001b3ULL;
    value >>= 8;
  }
  return hash;
}

enum class YcsbDistribution { uniform, zipfian };

// Picks record indices for one thread. The ZipfGenerator (its zeta sum is O(n)) is built
// once and shared read-only.
class KeyChooser {
 public:
  KeyChooser(YcsbDistribution distribution, const ZipfGenerator* zipf, std::uint64_t items,
             std::uint64_t seed)
      : distribution_(distribution), zipf_(zipf), items_(items), random_{seed} {}

  std::uint64_t next() {
    if (distribution_ == YcsbDistribution::uniform) return random_.below(items_);
    const double u = static_cast<double>(random_.next() >> 11) * 0x1.0p-53;  // [0, 1)
    return fnv1a64((*zipf_)(u)) % items_;
  }

  vkv::detail::SplitMix64& random() { return random_; }

 private:
  YcsbDistribution distribution_;
  const ZipfGenerator* zipf_;
  std::uint64_t items_;
  vkv::detail::SplitMix64 random_;
};

}  // namespace vkv::workload
