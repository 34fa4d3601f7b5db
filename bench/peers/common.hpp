// Shared by every benchmark: the value type and the keys (src/workload/records.hpp), the
// scale knobs, the key stream. Every store under test holds the same Value32 under the same
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
#include "workload/records.hpp"

namespace vkv_bench {

// The records (src/workload/records.hpp, shared with `vkv-lab cache`).
using vkv::workload::make_key;
using vkv::workload::make_keys;
using vkv::workload::make_value;
using vkv::workload::Value32;

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
using SplitMix = vkv::detail::SplitMix64;

}  // namespace vkv_bench
