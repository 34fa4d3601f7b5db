// The value kinds of the realistic-inputs axis (tests/stress/realistic_test.cpp,
// docs/testing.md "Realistic inputs"): a trivially copyable 40-byte value, a value
// that owns heap memory (a string past the small buffer and a vector), and a 64 KiB
// value. Each carries a counter the workloads increment, and content derived from its
// key, so a reader can tell that the id and the value it was handed belong together:
// a freed key or value read later shows as a mismatch without ASan, and as a
// heap-use-after-free under it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

namespace vkv_test::realistic {

inline std::uint64_t key_hash(const std::string& key) { return std::hash<std::string>{}(key); }

// 40 bytes, trivially copyable: a node holds it whole, copies never allocate.
struct Small40 {
  std::int64_t counter = 0;
  std::uint64_t hash = 0;
  std::array<char, 24> tag{};
};
static_assert(sizeof(Small40) == 40 && std::is_trivially_copyable_v<Small40>);

// Owns heap memory: every copy allocates twice, every destruction frees twice.
struct Owning {
  std::int64_t counter = 0;
  std::string label;                 // > 15 characters: never in the small buffer
  std::vector<std::uint64_t> trail;  // three copies of the key's hash
};

// 64 KiB on the heap: the garbage bound counts it, a stalled reader holds it.
struct Large {
  static constexpr std::size_t kBytes = std::size_t{64} << 10;
  std::int64_t counter = 0;
  std::vector<unsigned char> blob;
};

inline Small40 make_value(const Small40*, const std::string& key, std::int64_t counter) {
  Small40 v;
  v.counter = counter;
  v.hash = key_hash(key);
  v.tag.fill(static_cast<char>('a' + v.hash % 26));
  return v;
}
inline bool matches(const Small40& v, const std::string& key) {
  const std::uint64_t h = key_hash(key);
  if (v.hash != h) return false;
  for (char c : v.tag) {
    if (c != static_cast<char>('a' + h % 26)) return false;
  }
  return true;
}

inline std::string owning_label(const std::string& key) { return "value owned by key " + key; }
inline Owning make_value(const Owning*, const std::string& key, std::int64_t counter) {
  const std::uint64_t h = key_hash(key);
  return Owning{counter, owning_label(key), {h, h, h}};
}
inline bool matches(const Owning& v, const std::string& key) {
  const std::uint64_t h = key_hash(key);
  return v.label == owning_label(key) && v.trail == std::vector<std::uint64_t>{h, h, h};
}

inline Large make_value(const Large*, const std::string& key, std::int64_t counter) {
  return Large{counter, std::vector<unsigned char>(Large::kBytes,
                                                   static_cast<unsigned char>(key_hash(key)))};
}
inline bool matches(const Large& v, const std::string& key) {
  const auto fill = static_cast<unsigned char>(key_hash(key));
  // Both ends and the middle: checking every byte of every read would dominate the run.
  return v.blob.size() == Large::kBytes && v.blob.front() == fill &&
         v.blob[Large::kBytes / 2] == fill && v.blob.back() == fill;
}

template <class V>
V make(const std::string& key, std::int64_t counter) {
  return make_value(static_cast<const V*>(nullptr), key, counter);
}

}  // namespace vkv_test::realistic
