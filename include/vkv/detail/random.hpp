// Internal: the two small generators vkv uses where it needs random words, not
// cryptographic ones: splitmix64 (Steele, Lea and Flood) to expand a seed, and
// xoshiro256** (Blackman and Vigna) for streams. The retry jitter (src/vkv/retry.cpp) and
// the workload generator (src/workload/) draw from them, as do the benchmarks' key choosers.
//
// Thread safety: none; each thread owns its generator (they hold no shared state).
#pragma once

#include <bit>
#include <cstdint>

namespace vkv::detail {

// Advances `state` by the golden-ratio increment and returns the next well-mixed word.
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// splitmix64 as a stream (an aggregate: `SplitMix64{seed}`), with a uniform draw below
// n by Lemire's multiply-shift (its bias is negligible for n << 2^64). The benchmarks'
// and the workload's key chooser.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() noexcept { return splitmix64(state); }
  std::uint64_t below(std::uint64_t n) noexcept {
    __extension__ using U128 = unsigned __int128;  // GCC/Clang; -Wpedantic-clean
    return static_cast<std::uint64_t>((static_cast<U128>(next()) * n) >> 64);
  }
};

// xoshiro256**, its four words expanded from one seed by splitmix64: the same seed gives
// the same stream.
class Xoshiro256 {
 public:
  explicit Xoshiro256(std::uint64_t seed) noexcept {
    for (auto& word : s_) word = splitmix64(seed);
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

 private:
  std::uint64_t s_[4];
};

}  // namespace vkv::detail
