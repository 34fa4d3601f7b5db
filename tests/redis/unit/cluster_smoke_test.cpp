// vkv::redis::Store in cluster mode against a 3-master cluster the test starts
// (SmokeCluster, below): routing by slot from one seed, batches and scans over every
// master, one-slot commits, and the redirections a resharding produces (ASK while a
// slot migrates, MOVED after).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/redis/admin.hpp"
#include "support/redis/server.hpp"
#include "vkv/redis.hpp"
#include "vkv/redis/detail/keys.hpp"

namespace {

using vkv::redis::detail::key_slot;
using vkv_test::redis::Admin;
using vkv_test::redis::RedisServer;
using vkv_test::redis::Reply;
using vkv_test::redis::ServerOptions;
using vkv_test::redis::TempDir;

// Three masters without replicas (RedisServers of the support library in cluster mode,
// each with its nodes.conf in its own directory), slots assigned with CLUSTER
// ADDSLOTSRANGE, each given its own config epoch (CLUSTER SET-CONFIG-EPOCH, as
// `redis-cli --cluster create` does), joined with CLUSTER MEET. The constructor returns
// once every node reports cluster_state:ok, knows all three and sees every node's config
// epoch, and throws otherwise. The servers are killed by pid when it is destroyed.
//
// Why the epochs: nodes that meet with epoch 0 settle their epoch collisions by gossip
// after cluster_state is already ok. A slot handed over while that is still going on
// can be taken back by the old owner's higher epoch (an UPDATE message), after which the
// two nodes answer MOVED to each other for good (seen once in CI: "too many
// redirections").
class SmokeCluster {
 public:
  SmokeCluster() : dir_("vkv-redis-smoke-cluster") {
    ServerOptions options;
    options.cluster_enabled = true;
    options.durable = false;
    options.extra_args = {"--cluster-node-timeout", "5000"};
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(
          std::make_unique<RedisServer>(dir_.path() / ("node" + std::to_string(i)), options));
    }
    for (int i = 0; i < 3; ++i) {
      checked(i, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(kRanges[i][0]),
                  std::to_string(kRanges[i][1])});
    }
    for (int i = 0; i < 3; ++i) checked(i, {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)});
    for (int i = 1; i < 3; ++i) {
      checked(0, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes_[i]->port()),
                  std::to_string(nodes_[i]->bus_port())});
    }
    const bool ready = vkv_test::redis::poll_until(std::chrono::seconds(30), [&] {
      for (int i = 0; i < 3; ++i) {
        const std::string info = command(i, {"CLUSTER", "INFO"}).text;
        if (info.find("cluster_state:ok") == std::string::npos ||
            info.find("cluster_known_nodes:3") == std::string::npos ||
            config_epochs(i) != std::multiset<int>{1, 2, 3}) {
          return false;
        }
      }
      return true;
    });
    if (!ready) throw std::runtime_error("the cluster did not form within 30 s");
  }
  SmokeCluster(const SmokeCluster&) = delete;
  SmokeCluster& operator=(const SmokeCluster&) = delete;

  RedisServer& node(int i) { return *nodes_.at(i); }
  std::string node_id(int i) { return command(i, {"CLUSTER", "MYID"}).text; }
  // One command to node i on a fresh connection (an error reply is returned, not thrown).
  Reply command(int i, const std::vector<std::string>& args) {
    Admin admin(nodes_.at(i)->host(), nodes_.at(i)->port(), std::chrono::milliseconds(2000));
    return admin.command(args);
  }
  // command(), then throws if the reply is an error.
  Reply checked(int i, const std::vector<std::string>& args) {
    Admin admin(nodes_.at(i)->host(), nodes_.at(i)->port(), std::chrono::milliseconds(2000));
    return admin.checked(args);
  }
  // The config epochs node i sees (its own and the others'), from CLUSTER NODES: the
  // seventh field of each line.
  std::multiset<int> config_epochs(int i) {
    std::multiset<int> epochs;
    std::istringstream lines(command(i, {"CLUSTER", "NODES"}).text);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string field;
      for (int f = 0; f < 7 && fields >> field; ++f) {
      }
      if (!field.empty()) epochs.insert(std::atoi(field.c_str()));
    }
    return epochs;
  }
  // Ends a migration of `slot` to node `to` from node `from`: CLUSTER SETSLOT NODE on the
  // target first, then the source, then the rest, the order the Redis manual gives (the
  // target's config epoch is bumped first, so the source cannot take the slot back).
  void hand_over(int slot, int from, int to) {
    const std::string target_id = node_id(to);
    const std::vector<std::string> setslot = {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE",
                                              target_id};
    checked(to, setslot);
    checked(from, setslot);
    for (int n = 0; n < 3; ++n) {
      if (n != from && n != to) checked(n, setslot);
    }
  }
  // The node (0..2) serving `slot` at start.
  static int initial_owner(int slot) { return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2; }

 private:
  static constexpr int kRanges[3][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
  TempDir dir_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;  // killed by pid before dir_ goes
};

class RedisCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      cluster_ = new SmokeCluster();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "the cluster did not form: " << start_error_;
  }

  static vkv::redis::Options options(const std::string& entity) {
    vkv::redis::Options options;
    options.nodes = {cluster_->node(0).uri()};  // one seed: the rest is learned
    options.cluster = true;
    options.entity_type = entity;
    options.connections_per_node = 2;
    return options;
  }
  static SmokeCluster* cluster_;
  static std::string start_error_;
};
SmokeCluster* RedisCluster::cluster_ = nullptr;
std::string RedisCluster::start_error_;

TEST_F(RedisCluster, RecordsSpreadOverEveryMasterAndAreFoundFromOneSeed) {
  vkv::redis::Store<long> store(options("Spread"));
  constexpr int kRecords = 120;
  std::vector<std::string> ids;
  std::set<int> owners;
  for (int i = 0; i < kRecords; ++i) {
    ids.push_back("id-" + std::to_string(i));
    store.create(ids.back(), i);
    owners.insert(SmokeCluster::initial_owner(key_slot("vkv:Spread:" + ids.back())));
  }
  EXPECT_EQ(owners.size(), 3u);
  for (int n = 0; n < 3; ++n) {
    EXPECT_NE(cluster_->command(n, {"DBSIZE"}).integer, 0) << "node " << n;
  }
  const auto found = store.find_many(ids);
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_TRUE(found[i]) << ids[i];
    EXPECT_EQ(found[i]->value, i);
  }
  using W = vkv::redis::Store<long>::VersionedWrite;
  std::vector<W> writes;
  for (int i = 0; i < kRecords; ++i) writes.push_back(W{ids[i], found[i]->version, i + 1000});
  for (const auto& result : store.update_many(writes)) EXPECT_TRUE(result.ok());
  long sum = 0;
  std::size_t count = 0;
  store.for_each([&](const vkv::Record<long>& record) {
    sum += record.value;
    ++count;
  });
  EXPECT_EQ(count, static_cast<std::size_t>(kRecords));
  EXPECT_EQ(sum, 1000L * kRecords + kRecords * (kRecords - 1) / 2);
}

TEST_F(RedisCluster, CommitsWithinOneTagAndRefusesCrossSlot) {
  vkv::redis::Store<std::string> store(options("Tagged"));
  const auto a = store.create("{order-7}:head", "open");
  const auto b = store.create("{order-7}:line-1", "2 x tea");
  vkv::Transaction<std::string> tx;
  tx.update("{order-7}:head", a.version, "paid").check("{order-7}:line-1", b.version);
  const auto records = store.commit(tx);
  EXPECT_EQ(records[0].value, "paid");
  const auto c = store.create("{order-8}:head", "open");
  vkv::Transaction<std::string> cross;
  cross.check("{order-7}:line-1", b.version).check("{order-8}:head", c.version);
  EXPECT_THROW(store.commit(cross), std::invalid_argument);
}

TEST_F(RedisCluster, FollowsAskDuringAMigrationAndMovedAfterIt) {
  vkv::redis::Store<std::string> store(options("Moving"));
  const std::string id = "migrant";
  const std::string key = "vkv:Moving:" + id;
  const int slot = key_slot(key);
  const int from = SmokeCluster::initial_owner(slot);
  const int to = (from + 1) % 3;
  const auto created = store.create(id, "v1");  // the store now maps the slot to `from`
  auto& target = cluster_->node(to);
  const std::string source_id = cluster_->node_id(from);
  const std::string target_id = cluster_->node_id(to);
  ASSERT_EQ(
      cluster_->command(to, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source_id})
          .text,
      "OK");
  ASSERT_EQ(
      cluster_->command(from, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target_id})
          .text,
      "OK");
  ASSERT_EQ(
      cluster_
          ->command(from, {"MIGRATE", "127.0.0.1", std::to_string(target.port()), key, "0", "5000"})
          .text,
      "OK");
  // The key now lives on `to`; `from` answers ASK for it.
  const auto during = store.update_with_version(id, created.version, "v2");
  EXPECT_EQ(during.revision, 2u);
  // (Read straight from `to` only after the migration: it answers MOVED to a client
  // that did not send ASKING.)
  EXPECT_EQ(store.find(id)->value, "v2");

  cluster_->hand_over(slot, from, to);
  // `from` now answers MOVED; the store updates its map and goes to `to`.
  const auto after = store.update_with_version(id, during.version, "v3");
  EXPECT_EQ(after.revision, 3u);
  EXPECT_EQ(cluster_->command(to, {"HGET", key, "value"}).text, "v3");
  EXPECT_EQ(store.find(id)->value, "v3");
}

// A commit whose keys are split by a migration in progress gets TRYAGAIN: retried a
// bounded number of times, then UnavailableError (nothing applied); once the migration
// ends, the same commit goes through (MOVED to the new owner).
TEST_F(RedisCluster, CommitDuringAMigrationIsRetriedThenUnavailable) {
  vkv::redis::Store<std::string> store(options("Split"));
  const auto a = store.create("{split}:a", "a1");
  const auto b = store.create("{split}:b", "b1");
  const std::string key_a = "vkv:Split:{split}:a";
  const int slot = key_slot(key_a);
  const int from = SmokeCluster::initial_owner(slot);
  const int to = (from + 1) % 3;
  const std::string source_id = cluster_->node_id(from);
  const std::string target_id = cluster_->node_id(to);
  cluster_->command(to, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source_id});
  cluster_->command(from, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target_id});
  const std::string target_port = std::to_string(cluster_->node(to).port());
  ASSERT_EQ(cluster_->command(from, {"MIGRATE", "127.0.0.1", target_port, key_a, "0", "5000"}).text,
            "OK");
  vkv::Transaction<std::string> tx;
  tx.update("{split}:a", a.version, "a2").update("{split}:b", b.version, "b2");
  auto refused = store.try_commit(tx);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), vkv::Errc::unavailable);
  EXPECT_NE(refused.error_info().reason.find("TRYAGAIN"), std::string::npos)
      << refused.error_info().reason;

  ASSERT_EQ(
      cluster_
          ->command(from, {"MIGRATE", "127.0.0.1", target_port, "vkv:Split:{split}:b", "0", "5000"})
          .text,
      "OK");
  cluster_->hand_over(slot, from, to);
  const auto records = store.commit(tx);
  EXPECT_EQ(records[0].value, "a2");
  EXPECT_EQ(records[1].value, "b2");
  EXPECT_EQ(records[0].revision, 2u);  // the refused attempts applied nothing
}

}  // namespace
