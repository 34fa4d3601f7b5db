// YCSB's request distributions for bench/ycsb_benchmark.cpp.
//
// The Zipfian ranks come from the contention driver's generator
// (vkv::workload::ZipfGenerator in src/workload: Gray et al., SIGMOD 1994, as YCSB's
// ZipfianGenerator; rank 0 is the hottest). YCSB's default "zipfian" request
// distribution is scrambled: it hashes the rank (FNV-1a 64) so hot records are
// spread over the key space rather than being the lowest keys; KeyChooser does the
// same. (YCSB draws the rank over 10^10 items and folds it; we draw over the record
// count directly, which keeps the skew of theta = 0.99 for that count.)
#pragma once

#include <cstddef>
#include <cstdint>

#include "peers/common.hpp"
#include "workload/workload.hpp"

namespace vkv_bench {

using ZipfianGenerator = vkv::workload::ZipfGenerator;

inline std::uint64_t fnv1a64(std::uint64_t value) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (int i = 0; i < 8; ++i) {
    hash ^= value & 0xff;
    hash *= 0x100000001b3ULL;
    value >>= 8;
  }
  return hash;
}

enum class Distribution { uniform, zipfian };

// Picks record indices for one thread. The ZipfianGenerator (its zeta sum is O(n))
// is built once and shared read-only.
class KeyChooser {
 public:
  KeyChooser(Distribution distribution, const ZipfianGenerator* zipf, std::uint64_t items,
             std::uint64_t seed)
      : distribution_(distribution), zipf_(zipf), items_(items), random_{seed} {}

  std::uint64_t next() {
    if (distribution_ == Distribution::uniform) return random_.below(items_);
    const double u = static_cast<double>(random_.next() >> 11) * 0x1.0p-53;  // [0, 1)
    return fnv1a64((*zipf_)(u)) % items_;
  }

  SplitMix& random() { return random_; }

 private:
  Distribution distribution_;
  const ZipfianGenerator* zipf_;
  std::uint64_t items_;
  SplitMix random_;
};

}  // namespace vkv_bench
