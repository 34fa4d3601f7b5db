// The stores the redis tests run over (tests only): the in-process vkv::Store and
// vkv::redis::Store on one real redis-server and on a real 3-master Redis Cluster, each
// server started once per test process (a binary runs as one ctest test, so a cluster is
// made once per binary, not once per test case) and killed by pid at exit.
//
// Every store a test makes should get its own entity type (unique_entity), so tests
// sharing a server never see each other's keys.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vkv/redis.hpp>
#include <vkv/vkv.hpp>

#include "support/redis/cluster.hpp"
#include "support/redis/server.hpp"

namespace vkv_test::redis {

// One redis-server for the whole test process, started on first use.
inline RedisServer& shared_server() {
  struct Holder {
    TempDir dir{"vkv-redis-single"};
    RedisServer server{dir.path()};
  };
  static Holder holder;
  return holder.server;
}

// One 3-master, 3-replica cluster for the whole test process, made on first use.
inline RedisCluster& shared_cluster() {
  static RedisCluster cluster;
  return cluster;
}

// A fresh name per store, so tests never share keys.
inline std::string unique_entity(const std::string& base) {
  static std::atomic<int> counter{0};
  // relaxed: only uniqueness matters, no other memory is published through it.
  return base + std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
}

struct StoreSpec {
  std::string entity_type = "Customer";
  std::function<void(const vkv::ConflictEvent&)> on_conflict;
  std::size_t connections_per_node = 0;
};

inline vkv::redis::Options single_options(const StoreSpec& spec) {
  vkv::redis::Options o;
  o.nodes = {shared_server().uri()};
  o.entity_type = spec.entity_type;
  o.on_conflict = spec.on_conflict;
  o.connections_per_node = spec.connections_per_node;
  return o;
}

inline vkv::redis::Options cluster_options(const StoreSpec& spec) {
  vkv::redis::Options o;
  o.nodes = shared_cluster().seed_uris();
  o.cluster = true;
  o.entity_type = spec.entity_type;
  o.on_conflict = spec.on_conflict;
  o.connections_per_node = spec.connections_per_node;
  return o;
}

// The backends of the typed contract tests.
struct InProcessBackend {
  using StoreT = vkv::Store<std::string>;
  static constexpr bool cluster = false;
  static std::unique_ptr<StoreT> make(const StoreSpec& spec) {
    vkv::StoreOptions o;
    o.entity_type = spec.entity_type;
    o.on_conflict = spec.on_conflict;
    return std::make_unique<StoreT>(std::move(o));
  }
};

struct RedisSingleBackend {
  using StoreT = vkv::redis::Store<std::string>;
  static constexpr bool cluster = false;
  static std::unique_ptr<StoreT> make(const StoreSpec& spec) {
    return std::make_unique<StoreT>(single_options(spec));
  }
};

struct RedisClusterBackend {
  using StoreT = vkv::redis::Store<std::string>;
  static constexpr bool cluster = true;
  static std::unique_ptr<StoreT> make(const StoreSpec& spec) {
    return std::make_unique<StoreT>(cluster_options(spec));
  }
};

}  // namespace vkv_test::redis
