// Peer: a raw oneTBB concurrent_hash_map holding value + version (what one would
// write by hand for optimistic locking without vkv). Same hash as vkv (std::hash)
// and the same allocator (std::allocator, i.e. glibc malloc, as vkv's index uses):
// the map's default tbb_allocator would route through libtbbmalloc, which would
// both hide the peer from the mallinfo2() memory figures and compare allocators
// rather than maps.
#pragma once

#include <oneapi/tbb/concurrent_hash_map.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "peers/common.hpp"

namespace vkv_bench {

struct Versioned {
  Value32 value;
  std::uint64_t version;  // a per-record counter: the cheapest version check there is
};

struct StdHashCompare {
  std::size_t hash(const std::string& key) const { return std::hash<std::string>{}(key); }
  bool equal(const std::string& a, const std::string& b) const { return a == b; }
};

class ChmPeer {
 public:
  static constexpr const char* kName = "Chm";
  using Map = tbb::concurrent_hash_map<std::string, Versioned, StdHashCompare,
                                       std::allocator<std::pair<const std::string, Versioned>>>;

  explicit ChmPeer(std::size_t expected = 0) : map_(expected) {}

  bool insert(const std::string& key, const Value32& value) {
    return map_.emplace(key, Versioned{value, 1});
  }

  // find + copy under the item's read lock (const_accessor).
  std::optional<Versioned> find(const std::string& key) const {
    Map::const_accessor accessor;
    if (!map_.find(accessor, key)) return std::nullopt;
    return accessor->second;
  }

  // Reads the value in place under the item's read lock: no copy (vkv's visit()).
  template <class F>
  bool visit(const std::string& key, F&& f) const {
    Map::const_accessor accessor;
    if (!map_.find(accessor, key)) return false;
    f(accessor->second);
    return true;
  }

  // Read-modify-write under the item's write lock, held across mutate (the
  // pessimistic baseline of update_with_retry): mutate, then bump the version.
  template <class M>
  bool rmw(const std::string& key, M&& mutate) {
    Map::accessor accessor;
    if (!map_.find(accessor, key)) return false;
    mutate(accessor->second.value);
    ++accessor->second.version;
    return true;
  }

  // Version-checked assign under the item's write lock (accessor).
  bool update(const std::string& key, std::uint64_t expected, const Value32& value) {
    Map::accessor accessor;
    if (!map_.find(accessor, key) || accessor->second.version != expected) return false;
    accessor->second.value = value;
    accessor->second.version = expected + 1;
    return true;
  }

  // Unconditional write (YCSB "update"): still bumps the version.
  bool blind_update(const std::string& key, const Value32& value) {
    Map::accessor accessor;
    if (!map_.find(accessor, key)) return false;
    accessor->second.value = value;
    ++accessor->second.version;
    return true;
  }

  bool erase(const std::string& key, std::uint64_t expected) {
    Map::accessor accessor;
    if (!map_.find(accessor, key) || accessor->second.version != expected) return false;
    return map_.erase(accessor);
  }

  std::size_t size() const { return map_.size(); }

 private:
  Map map_;
};

}  // namespace vkv_bench
