// Internal (users never include this directly): making fresh versions.
//
// A version is an RFC 9562 version-4 UUID whose 122 free bits are a keyed bijection
// (a two-round Feistel network over 60 + 62 bits) of (thread record index, that
// record's counter). So:
//   - no shared state on the hot path: the counter lives in the calling thread's
//     epoch ThreadRecord, which only that thread writes;
//   - never the same version twice in a process: distinct (index, counter) pairs map
//     to distinct UUIDs, and a reused ThreadRecord keeps counting where it stopped;
//   - unique, not secret: the keys come from std::random_device at start-up and every
//     output bit depends on both inputs, but two rounds of a multiply-xorshift network
//     are no cipher: someone who sees a version can recover enough to predict the
//     next ones. A version proves "this is the state you read", never who may write
//     (docs/design.md, "Versions");
//   - distinct across processes, fork()ed children included: a child draws new keys
//     (a pthread_atfork handler in src/vkv/version.cpp, which says why that suffices), so
//     it does not repeat the versions its parent goes on making.
// Version 7 was not chosen: it needs a clock read per version (20+ ns) and leaks
// write times. Measured in bench/ops_benchmark.cpp (BM_Version_Generate).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "vkv/detail/epoch.hpp"
#include "vkv/version.hpp"

namespace vkv::detail {

// Keys of the Feistel rounds; set from std::random_device before main, and again in
// the child after fork().
extern std::uint64_t version_keys[2];

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  // splitmix64's finaliser: a bijection on 64 bits with full avalanche.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t to_big_endian(std::uint64_t x) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    return __builtin_bswap64(x);  // GCC and Clang, the compilers vkv supports
  } else {
    return x;
  }
}

// The stream spread over all 60 bits of the first Feistel half by a bijection (odd
// multipliers mod 2^60 and xor-shifts), so two threads' n-th versions differ
// everywhere, not only in a few low bits of the first half.
inline std::uint64_t spread_stream(std::uint64_t stream) noexcept {
  constexpr std::uint64_t mask60 = (std::uint64_t{1} << 60) - 1;
  std::uint64_t spread = (stream * 0x9e3779b97f4a7c15ULL) & mask60;
  spread ^= spread >> 30;
  spread = (spread * 0xbf58476d1ce4e5b9ULL) & mask60;
  spread ^= spread >> 29;
  return spread;
}

// make_version for a stream already spread (spread_stream).
inline Version make_version_spread(std::uint64_t spread, std::uint64_t counter) noexcept {
  constexpr std::uint64_t mask60 = (std::uint64_t{1} << 60) - 1;
  constexpr std::uint64_t mask62 = (std::uint64_t{1} << 62) - 1;
  // Feistel: (L, R) -> (L ^ F1(R), R ^ F2(L ^ F1(R))): invertible for any F1, F2.
  const std::uint64_t left = (spread ^ mix64(counter ^ version_keys[0])) & mask60;
  const std::uint64_t right = (counter ^ mix64(left ^ version_keys[1])) & mask62;
  // Layout: hi = 48 bits | version 4 | 12 bits; lo = variant 10 | 62 bits.
  const std::uint64_t hi = ((left >> 12) << 16) | (std::uint64_t{4} << 12) | (left & 0xfff);
  const std::uint64_t lo = (std::uint64_t{2} << 62) | right;
  // Big-endian byte order (RFC 9562), as two 8-byte stores: a byte-by-byte loop is not
  // vectorised inside the write path.
  boost::uuids::uuid uuid;
  const std::uint64_t hi_be = to_big_endian(hi);
  const std::uint64_t lo_be = to_big_endian(lo);
  std::memcpy(uuid.data, &hi_be, 8);
  std::memcpy(uuid.data + 8, &lo_be, 8);
  return Version(uuid);
}

inline Version make_version(std::uint64_t stream, std::uint64_t counter) noexcept {
  return make_version_spread(spread_stream(stream), counter);
}

// The calling thread's stream and its spread, cached: spreading costs ~10
// instructions per version, and a thread's stream (its ThreadRecord's index) never
// changes while it lives. Owner-only; the stream is checked on every use, so a stale
// entry can never be used (the all-ones stream is no record's index).
struct SpreadCache {
  std::uint64_t stream = ~std::uint64_t{0};
  std::uint64_t spread = 0;
};
inline constinit thread_local SpreadCache spread_cache;

// A version never issued before in this process. May throw std::bad_alloc only on a
// thread's first use of vkv (attaching the thread). Inlined into each write (one call
// site each): out of line it costs a call per write (tools/icount.sh counts it).
[[gnu::always_inline]] inline Version next_version() {
  epoch::ThreadRecord& record = epoch::this_thread();
  SpreadCache& cache = spread_cache;
  if (cache.stream != record.index) [[unlikely]] {
    cache.spread = spread_stream(record.index);
    cache.stream = record.index;
  }
  return make_version_spread(cache.spread, record.version_counter++);
}

}  // namespace vkv::detail
