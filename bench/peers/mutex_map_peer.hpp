// Peer: std::unordered_map under one std::shared_mutex (readers share, writers
// exclude everyone) — the baseline most code starts from.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "peers/chm_peer.hpp"
#include "peers/common.hpp"

namespace vkv_bench {

class MutexMapPeer {
 public:
  static constexpr const char* kName = "MutexMap";

  explicit MutexMapPeer(std::size_t expected = 0) { map_.reserve(expected); }

  bool insert(const std::string& key, const Value32& value) {
    std::unique_lock lock(mutex_);
    return map_.emplace(key, Versioned{value, 1}).second;
  }

  std::optional<Versioned> find(const std::string& key) const {
    std::shared_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

  template <class F>
  bool visit(const std::string& key, F&& f) const {
    std::shared_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    f(it->second);
    return true;
  }

  template <class M>
  bool rmw(const std::string& key, M&& mutate) {
    std::unique_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    mutate(it->second.value);
    ++it->second.version;
    return true;
  }

  bool update(const std::string& key, std::uint64_t expected, const Value32& value) {
    std::unique_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end() || it->second.version != expected) return false;
    it->second.value = value;
    it->second.version = expected + 1;
    return true;
  }

  bool blind_update(const std::string& key, const Value32& value) {
    std::unique_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    it->second.value = value;
    ++it->second.version;
    return true;
  }

  bool erase(const std::string& key, std::uint64_t expected) {
    std::unique_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end() || it->second.version != expected) return false;
    map_.erase(it);
    return true;
  }

  std::size_t size() const {
    std::shared_lock lock(mutex_);
    return map_.size();
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Versioned> map_;
};

}  // namespace vkv_bench
