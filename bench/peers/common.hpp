// Shared by every benchmark: the value type, the keys, and the scale knobs.
//
// Every store under test (vkv and each peer) holds the same Value32 under the same
// std::string keys, so a difference in a figure is a difference in the store.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "vkv/detail/random.hpp"

namespace vkv_bench {

// The record payload: 32 bytes, trivially copyable (like a small row).
struct Value32 {
  std::array<char, 32> bytes{};
};

inline Value32 make_value(std::uint64_t seed) {
  Value32 v;
  for (std::size_t i = 0; i < v.bytes.size(); ++i) {
    v.bytes[i] = static_cast<char>('a' + (seed + i) % 26);
  }
  return v;
}

// YCSB-style key: "user" + the number zero-padded to 10 digits (14 characters, so
// libstdc++ keeps it inline in the std::string: no key allocation for any store).
inline std::string make_key(std::uint64_t i) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "user%010llu", static_cast<unsigned long long>(i));
  return buffer;
}

inline std::vector<std::string> make_keys(std::uint64_t first, std::size_t count) {
  std::vector<std::string> keys;
  keys.reserve(count);
  for (std::size_t i = 0; i < count; ++i) keys.push_back(make_key(first + i));
  return keys;
}

// Scale knobs shared with bench/contention_benchmark.cpp:
//   VKV_BENCH_KEYS=<n>  replaces every record count;
//   VKV_BENCH_SMOKE=1   smoke run (CI): 2000 records unless VKV_BENCH_KEYS says otherwise,
//                       fixed-iteration benchmarks cut to a handful.
inline bool smoke_run() {
  const char* smoke = std::getenv("VKV_BENCH_SMOKE");
  return std::getenv("VKV_BENCH_KEYS") != nullptr ||
         (smoke != nullptr && smoke[0] != '\0' && smoke[0] != '0');
}

inline std::size_t scaled_keys(std::size_t normal) {
  if (const char* env = std::getenv("VKV_BENCH_KEYS")) {
    const long long value = std::atoll(env);
    if (value > 0) return static_cast<std::size_t>(value);
  }
  return smoke_run() ? 2000 : normal;
}

// Built once per n, by whichever thread asks first, and kept for the binary's life; one
// cache per call site (each `make` lambda is its own type). For the benchmarks' shared
// data: key lists, key orders, loaded stores.
template <class Make>
const auto& built_once(std::size_t n, Make make) {
  static std::mutex mutex;
  static std::map<std::size_t, decltype(make())> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(n);
  if (it == cache.end()) it = cache.emplace(n, make()).first;
  return it->second;
}

// splitmix64: a cheap, well-mixed per-thread random stream for picking keys.
struct SplitMix {
  std::uint64_t state;
  std::uint64_t next() { return vkv::detail::splitmix64(state); }
  // Uniform in [0, n) (Lemire's multiply-shift; bias is negligible for n << 2^64).
  std::uint64_t below(std::uint64_t n) {
    __extension__ using U128 = unsigned __int128;  // GCC/Clang; -Wpedantic-clean
    return static_cast<std::uint64_t>((static_cast<U128>(next()) * n) >> 64);
  }
};

}  // namespace vkv_bench
