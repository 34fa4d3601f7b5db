// The router heals without stampedes (issue 22, item 4): 8 threads read keys of a master
// that was just killed (kill -9, by pid), with a black-holed seed listed first (a proxy
// that accepts and never answers: each CLUSTER SLOTS there waits command_timeout).
// Every thread needs a slot-map refresh; they must share one sweep, not run eight one
// after the other (before: 0.5, 1.0 ... 4.0 s for the last thread). The sweeps are
// counted by Store::slot_map_refreshes(); the wall time is printed ("router:").
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "redis/backends.hpp"
#include "redis/unit/fault_proxy.hpp"

namespace vkv_test::redis {
namespace {

TEST(RedisRouter, EightThreadsOnADeadMasterShareOneRefreshSweep) {
  RedisCluster& cluster = shared_cluster();
  cluster.wait_stable();
  vkv_test::FaultProxy hole(cluster.master_port_of_slot(0));
  hole.black_hole(true);
  const std::string entity = unique_entity("Router");
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 2});
  o.nodes.insert(o.nodes.begin(), hole.uri());  // asked first, never answers
  o.connect_timeout = std::chrono::milliseconds(500);
  o.command_timeout = std::chrono::milliseconds(500);
  o.call_timeout = std::chrono::milliseconds(3000);
  // Longer than the 8 threads take to arrive (they start from one line), so a thread
  // that comes after the sweep gets its answer instead of starting another.
  o.refresh_cooldown = std::chrono::milliseconds(1000);
  vkv::redis::Store<std::string> store(o);

  const int master = cluster.master_port_of_slot(5000);
  std::vector<std::string> ids;
  for (int candidate = 0; ids.size() < 8; ++candidate) {
    const std::string id = "r" + std::to_string(candidate) + "-4b1d2c3e-5f60-4a7b-8c9d-0e1f2a3b";
    if (cluster.master_port_of_slot(cluster.key_slot("vkv:" + entity + ":" + id)) == master) {
      ids.push_back(id);
    }
  }
  for (const std::string& id : ids) EXPECT_FALSE(store.find(id));  // map loaded, pools open
  // The warm-up's sweep must be out of its cooldown, or the threads would be given its
  // (pre-kill) answer without any sweep: a wait for a time-based policy to lapse, not
  // synchronisation with another thread.
  std::this_thread::sleep_for(o.refresh_cooldown + std::chrono::milliseconds(100));
  const std::uint64_t before = store.slot_map_refreshes();

  cluster.node_at_port(master).kill9();
  std::atomic<int> ready{0};
  std::atomic<int> unavailable{0};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      // acq_rel / acquire: a start line for the 8 threads; nothing else is published.
      ready.fetch_add(1, std::memory_order_acq_rel);
      while (ready.load(std::memory_order_acquire) < 8) std::this_thread::yield();
      try {
        store.find(ids[static_cast<std::size_t>(t)]);
      } catch (const vkv::UnavailableError&) {
        unavailable.fetch_add(1, std::memory_order_relaxed);  // relaxed: read after join
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  const std::uint64_t sweeps = store.slot_map_refreshes() - before;
  std::printf("router: 8 threads on a dead master's slots: %llu refresh sweep(s), %lld ms\n",
              static_cast<unsigned long long>(sweeps), static_cast<long long>(wall.count()));
  std::fflush(stdout);
  cluster.restart_node(master);  // back as it was (well inside cluster-node-timeout)
  EXPECT_EQ(unavailable.load(), 8);
  EXPECT_EQ(sweeps, 1u);
}

}  // namespace
}  // namespace vkv_test::redis
