// vkv under the same small interface the peers offer, so the YCSB and memory
// drivers run one template over every store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "peers/common.hpp"
#include "vkv/store.hpp"

namespace vkv_bench {

class VkvAdapter {
 public:
  static constexpr const char* kName = "Vkv";
  using Store = vkv::Store<Value32>;
  using Record = Store::record_type;

  explicit VkvAdapter(std::size_t /*expected*/ = 0) {}

  bool insert(const std::string& key, const Value32& value) {
    return store_.try_create(key, value).ok();
  }

  std::optional<Record> find(const std::string& key) const { return store_.find(key); }

  // YCSB "update" (a write that does not name a version): read-then-CAS with vkv's
  // default retry policy, the store's own unconditional-update path.
  bool blind_update(const std::string& key, const Value32& value) {
    try {
      store_.update_with_retry(key, [&](Value32& v) { v = value; });
      return true;
    } catch (const vkv::OptimisticLockError&) {
      return false;
    }
  }

  // Version-checked write that reports a conflict instead of throwing.
  bool update(const std::string& key, const vkv::Version& expected, const Value32& value) {
    return store_.try_update_with_version(key, expected, value).ok();
  }

  Store& store() { return store_; }
  std::size_t size() const { return store_.size(); }

 private:
  Store store_;
};

}  // namespace vkv_bench
