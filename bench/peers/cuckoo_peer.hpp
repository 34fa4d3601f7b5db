// Peer: libcuckoo's cuckoohash_map (fine-grained striped spinlocks, no node per
// entry) holding value + version, with the version checked inside update_fn/erase_fn.
#pragma once

#include <cstdint>
#include <functional>
#include <libcuckoo/cuckoohash_map.hh>
#include <optional>
#include <string>

#include "peers/chm_peer.hpp"
#include "peers/common.hpp"

namespace vkv_bench {

class CuckooPeer {
 public:
  static constexpr const char* kName = "Cuckoo";
  using Map = libcuckoo::cuckoohash_map<std::string, Versioned>;

  explicit CuckooPeer(std::size_t expected = 0)
      : map_(expected == 0 ? libcuckoo::DEFAULT_SIZE : expected) {}

  bool insert(const std::string& key, const Value32& value) {
    return map_.insert(key, Versioned{value, 1});
  }

  std::optional<Versioned> find(const std::string& key) const {
    std::optional<Versioned> out;
    map_.find_fn(key, [&](const Versioned& v) { out = v; });
    return out;
  }

  template <class F>
  bool visit(const std::string& key, F&& f) const {
    return map_.find_fn(key, [&](const Versioned& v) { f(v); });
  }

  template <class M>
  bool rmw(const std::string& key, M&& mutate) {
    return map_.update_fn(key, [&](Versioned& v) {
      mutate(v.value);
      ++v.version;
    });
  }

  bool update(const std::string& key, std::uint64_t expected, const Value32& value) {
    bool ok = false;
    map_.update_fn(key, [&](Versioned& v) {
      if (v.version != expected) return;
      v.value = value;
      v.version = expected + 1;
      ok = true;
    });
    return ok;
  }

  bool blind_update(const std::string& key, const Value32& value) {
    return map_.update_fn(key, [&](Versioned& v) {
      v.value = value;
      ++v.version;
    });
  }

  bool erase(const std::string& key, std::uint64_t expected) {
    bool ok = false;
    // erase_fn erases when the functor returns true.
    map_.erase_fn(key, [&](Versioned& v) {
      ok = v.version == expected;
      return ok;
    });
    return ok;
  }

  std::size_t size() const { return map_.size(); }

 private:
  Map map_;
};

}  // namespace vkv_bench
