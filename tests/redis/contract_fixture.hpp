// The typed contract suite's fixture (tests/redis/contract*_test.cpp): one store per test,
// over each backend of backends.hpp, with a unique entity type and a conflict log.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis/backends.hpp"
#include "support/contract.hpp"

namespace vkv_test::redis {

template <class Backend>
class StoreContract : public ::testing::Test {
 protected:
  using StoreT = typename Backend::StoreT;
  using record_type = typename StoreT::record_type;

  void SetUp() override {
    entity_ = unique_entity("Customer");
    StoreSpec spec;
    spec.entity_type = entity_;
    spec.on_conflict = [this](const vkv::ConflictEvent& e) {
      std::lock_guard lock(mutex_);
      conflicts_.push_back({std::string(e.entity_type), e.entity_id, e.expected, e.actual});
    };
    store_ = Backend::make(spec);
  }

  // Ids that share one hash slot in cluster mode (commits need that); plain otherwise.
  static std::string tagged(const std::string& id) { return "{acct}" + id; }

  struct Conflict {
    std::string entity_type, entity_id;
    vkv::Version expected, actual;
  };
  std::vector<Conflict> conflicts() {
    std::lock_guard lock(mutex_);
    return conflicts_;
  }

  StoreT& store() { return *store_; }
  const std::string& entity() const { return entity_; }

 private:
  std::string entity_;
  std::unique_ptr<StoreT> store_;
  std::mutex mutex_;
  std::vector<Conflict> conflicts_;
};

using Backends = ::testing::Types<InProcessBackend, RedisSingleBackend, RedisClusterBackend>;

struct BackendNames {
  template <class B>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<B, InProcessBackend>) return "InProcess";
    if constexpr (std::is_same_v<B, RedisSingleBackend>) return "RedisSingle";
    return "RedisCluster";
  }
};

// Field-by-field equality of two records (Record has no operator==).
using vkv_contract::same_record;

// The text of an error must name the entity type and the id.
inline ::testing::AssertionResult names_key(const vkv::Error& e, const std::string& entity,
                                            const std::string& id) {
  const std::string what = e.what();
  if (e.entity_type() == entity && e.entity_id() == id && what.find(entity) != std::string::npos &&
      what.find(id) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "error does not name " << entity << " " << id << ": " << what << " (entity_type "
         << e.entity_type() << ", entity_id " << e.entity_id() << ")";
}

}  // namespace vkv_test::redis
