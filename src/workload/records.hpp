// The records every benchmark and `vkv-lab cache` store: a 32-byte value and YCSB-style
// keys. Every store under test (vkv and each peer) holds the same Value32 under the same
// std::string keys, so a difference in a figure is a difference in the store.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace vkv::workload {

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

}  // namespace vkv::workload
