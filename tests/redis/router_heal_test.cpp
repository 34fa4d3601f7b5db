// The router heals like mature cluster clients (issue 22, item 4), on the real 3-master
// cluster of this binary (nodes killed and failed over by pid and CLUSTER FAILOVER):
//   - a periodic slot-map refresh runs with no fault at all (refresh_period);
//   - a MOVED makes the next call reload the whole map (not only the one slot);
//   - a node whose CLUSTER SLOTS failed is asked last by later refreshes;
//   - the pool of a node that left the map (a master demoted by a failover) is closed;
//   - a call whose master died is routed, in the same call, to the promoted replica.
// Evidence: Store::slot_map_refreshes(), the servers' INFO errorstats (MOVED replies
// sent) and CLIENT LIST, the fault proxy's accepted connections. Each test fails with
// its mechanism removed (checked by hand, one mutation at a time): no `due` after a
// good sweep (0 periodic sweeps in 1610 calls); no refresh_soon() after MOVED (2 MOVED,
// not 1); no stable_partition of failing candidates (the hole accepted 6 connects, not
// 1); no retire() of departed pools (the connection stays open); refresh() not told
// when the node began failing (the read fails: "connection refused", the pre-kill map
// taken from the cooldown).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "redis/backends.hpp"
#include "redis/unit/fault_proxy.hpp"
#include "support/redis/admin.hpp"

namespace vkv_test::redis {
namespace {

using StoreT = vkv::redis::Store<std::string>;

// An id (36 characters) whose key lives on the master on `port`, in a slot not in `not_in`.
std::string id_on(RedisCluster& cluster, const std::string& entity, int port,
                  const std::vector<int>& not_in = {}) {
  for (int n = 0;; ++n) {
    const std::string id = "h" + std::to_string(n) + "-9a8b7c6d-5e4f-4a3b-8c2d-1e0f";
    const int slot = cluster.key_slot("vkv:" + entity + ":" + id);
    bool fresh = true;
    for (int s : not_in) fresh = fresh && s != slot;
    if (fresh && cluster.master_port_of_slot(slot) == port) return id;
  }
}

std::string node_id(RedisCluster& cluster, int port) {
  for (const ClusterNode& node : cluster.topology()) {
    if (node.port == port) return node.id;
  }
  throw std::runtime_error("no node on port " + std::to_string(port));
}

// Moves an empty hash slot from the master on `from` to the one on `to` as a resharding
// does (IMPORTING / MIGRATING, then SETSLOT NODE on every master: the target bumps its
// config epoch, so the replicas follow), then waits until every node reports one map.
void give_slot(RedisCluster& cluster, int slot, int from, int to) {
  const std::string s = std::to_string(slot);
  const std::string to_id = node_id(cluster, to);
  Admin target("127.0.0.1", to);
  Admin source("127.0.0.1", from);
  target.checked({"CLUSTER", "SETSLOT", s, "IMPORTING", node_id(cluster, from)});
  source.checked({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id});
  target.checked({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  source.checked({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  for (const ClusterNode& node : cluster.topology()) {
    if (node.master && !node.failed && node.port != to && node.port != from) {
      Admin("127.0.0.1", node.port).checked({"CLUSTER", "SETSLOT", s, "NODE", to_id});
    }
  }
  cluster.wait_stable();
}

// MOVED replies a node has sent (INFO errorstats, errorstat_MOVED:count=N).
long long moved_sent(int port) {
  const Reply info = Admin("127.0.0.1", port).checked({"INFO", "errorstats"});
  const auto field = info_field(info.text, "errorstat_MOVED");
  return field ? std::stoll(field->substr(field->find('=') + 1)) : 0;
}

// Connections on the node on `port` whose last command was a script call (the store's;
// the harness's own connections never send one).
int script_clients(int port) {
  const Reply list = Admin("127.0.0.1", port).checked({"CLIENT", "LIST"});
  int count = 0;
  for (std::size_t at = 0; (at = list.text.find(" cmd=eval", at)) != std::string::npos; ++at) {
    ++count;
  }
  return count;
}

TEST(RedisRouterHeals, APeriodicRefreshRunsWithoutAnyFault) {
  RedisCluster& cluster = shared_cluster();
  cluster.wait_stable();
  const std::string entity = unique_entity("Periodic");
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 2});
  o.refresh_cooldown = std::chrono::milliseconds(0);
  o.refresh_period = std::chrono::hours(1);  // the control: none due within this test
  const std::string id = id_on(cluster, entity, cluster.master_port_of_slot(0));
  {
    StoreT store(o);
    store.create(id, std::string(120, 'p'));
    const std::uint64_t loaded = store.slot_map_refreshes();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(store.find(id));
    EXPECT_EQ(store.slot_map_refreshes(), loaded);
  }
  o.refresh_period = std::chrono::milliseconds(1);
  StoreT store(o);
  ASSERT_TRUE(store.find(id));
  const std::uint64_t loaded = store.slot_map_refreshes();
  int calls = 0;
  EXPECT_TRUE(poll_until(std::chrono::seconds(20),
                         [&] {
                           ++calls;
                           return store.find(id) && store.slot_map_refreshes() >= loaded + 3;
                         }))
      << store.slot_map_refreshes() - loaded << " periodic refreshes in " << calls << " calls";
}

TEST(RedisRouterHeals, MovedReloadsTheWholeSlotMap) {
  RedisCluster& cluster = shared_cluster();
  cluster.wait_stable();
  const std::string entity = unique_entity("Moved");
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 2});
  o.refresh_cooldown = std::chrono::milliseconds(0);  // the reload is due at once
  o.refresh_period = std::chrono::hours(1);
  StoreT store(o);
  const int home = cluster.master_port_of_slot(100);
  int away = home;
  for (const ClusterNode& node : cluster.topology()) {
    if (node.master && !node.failed && node.port != home) away = node.port;
  }
  ASSERT_NE(away, home);
  // Two ids in two distinct (empty: a fresh entity) slots of `home`.
  const std::string a = id_on(cluster, entity, home);
  const int slot_a = cluster.key_slot("vkv:" + entity + ":" + a);
  const std::string b = id_on(cluster, entity, home, {slot_a});
  const int slot_b = cluster.key_slot("vkv:" + entity + ":" + b);
  EXPECT_FALSE(store.find(a));  // the map is loaded
  EXPECT_FALSE(store.find(b));
  give_slot(cluster, slot_a, home, away);  // both slots move behind the store's back
  give_slot(cluster, slot_b, home, away);
  const long long moved_before = moved_sent(home);
  const std::uint64_t sweeps_before = store.slot_map_refreshes();

  EXPECT_FALSE(store.find(a));  // MOVED: follows it, and marks the map stale
  EXPECT_EQ(moved_sent(home), moved_before + 1);
  EXPECT_FALSE(store.find(b));  // the whole map reloaded first: straight to `away`
  const long long moved = moved_sent(home) - moved_before;
  const std::uint64_t sweeps = store.slot_map_refreshes() - sweeps_before;
  give_slot(cluster, slot_a, away, home);  // back as it was
  give_slot(cluster, slot_b, away, home);
  EXPECT_EQ(moved, 1) << "the second slot's move was learned from another MOVED";
  EXPECT_EQ(sweeps, 1u);
}

TEST(RedisRouterHeals, ANodeWhoseSlotMapReadFailedIsAskedLast) {
  RedisCluster& cluster = shared_cluster();
  cluster.wait_stable();
  vkv_test::FaultProxy hole(cluster.master_port_of_slot(0));
  hole.black_hole(true);  // connects succeed, nothing answers
  const std::string entity = unique_entity("Failing");
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 2});
  o.nodes.insert(o.nodes.begin(), hole.uri());  // the first seed
  o.connect_timeout = std::chrono::milliseconds(300);
  o.command_timeout = std::chrono::milliseconds(300);
  o.call_timeout = std::chrono::milliseconds(3000);
  o.refresh_cooldown = std::chrono::milliseconds(0);
  o.refresh_period = std::chrono::milliseconds(1);  // a sweep before nearly every call
  StoreT store(o);
  const std::string id = id_on(cluster, entity, cluster.master_port_of_slot(0));
  store.create(id, std::string(120, 'f'));  // the first sweep: the hole, then a real node
  EXPECT_EQ(hole.accepted(), 1u);
  const std::uint64_t first = store.slot_map_refreshes();
  EXPECT_TRUE(poll_until(std::chrono::seconds(20), [&] {
    return store.find(id) && store.slot_map_refreshes() >= first + 5;
  }));
  EXPECT_EQ(hole.accepted(), 1u) << "a later sweep asked the failing seed first again";
}

TEST(RedisRouterHeals, ThePoolOfADemotedMasterIsClosed) {
  RedisCluster& cluster = shared_cluster();
  cluster.wait_stable();
  const std::string entity = unique_entity("Departed");
  const int leaving = cluster.master_port_of_slot(0);
  int seed = leaving;
  for (const ClusterNode& node : cluster.topology()) {
    if (node.master && !node.failed && node.port != leaving) seed = node.port;
  }
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 2});
  o.nodes = {"redis://127.0.0.1:" + std::to_string(seed)};  // seeds are never retired
  o.refresh_cooldown = std::chrono::milliseconds(0);
  o.refresh_period = std::chrono::hours(1);
  StoreT store(o);
  const std::string id = id_on(cluster, entity, leaving);
  store.create(id, std::string(120, 'd'));
  ASSERT_TRUE(store.find(id));
  ASSERT_EQ(script_clients(leaving), 1);  // the store's idle connection

  cluster.graceful_failover(leaving);  // `leaving` is a replica now (and stays one: a
                                       // failback within 2 node timeouts gets no votes)
  ASSERT_TRUE(store.find(id));         // MOVED from the old master: the map is stale
  ASSERT_TRUE(store.find(id));         // reloaded: `leaving` serves no slot, its pool retired
  const bool closed =
      poll_until(std::chrono::seconds(10), [&] { return script_clients(leaving) == 0; });
  const int left = script_clients(leaving);
  EXPECT_TRUE(closed) << left << " connection(s) of the store still open on the demoted master";
}

TEST(RedisRouterHeals, AReadOnAKilledMasterGoesToThePromotedReplica) {
  RedisCluster& cluster = shared_cluster();
  cluster.wait_stable();
  const std::string entity = unique_entity("Promoted");
  const int master = cluster.master_port_of_slot(0);
  // Earlier tests of this binary fail masters over and restart them: until gossip
  // clears a restarted node's FAIL flag, the harness sees no live replica to promote.
  ASSERT_TRUE(
      poll_until(std::chrono::seconds(30), [&] { return cluster.replica_port_of(master) > 0; }));
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 2});
  o.wait_replicas = 1;  // the record is on the replica before the kill
  o.wait_timeout = std::chrono::milliseconds(500);
  StoreT store(o);
  const std::string id = id_on(cluster, entity, master);
  const auto created = store.create(id, std::string(120, 'k'));
  ASSERT_TRUE(store.find(id));  // a pooled connection to `master`
  const std::uint64_t sweeps_before = store.slot_map_refreshes();

  cluster.takeover_failover(master);  // kill -9 by pid, TAKEOVER on its replica
  std::optional<StoreT::record_type> found;
  std::string error;
  try {
    found = store.find(id);  // connect refused: one shared refresh, then the new master
  } catch (const vkv::UnavailableError& e) {
    error = e.what();
  }
  const std::uint64_t sweeps = store.slot_map_refreshes() - sweeps_before;
  cluster.restart_node(master);  // rejoins as a replica
  cluster.wait_stable();
  ASSERT_TRUE(found) << error;
  EXPECT_EQ(found->version, created.version);
  EXPECT_EQ(sweeps, 1u);
}

}  // namespace
}  // namespace vkv_test::redis
