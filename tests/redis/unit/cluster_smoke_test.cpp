// vkv::redis::Store in cluster mode against a 3-master cluster the test starts
// (local_cluster.hpp): routing by slot from one seed, batches and scans over every
// master, one-slot commits, and the redirections a resharding produces (ASK while a
// slot migrates, MOVED after).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "local_cluster.hpp"
#include "vkv/redis.hpp"
#include "vkv/redis/detail/keys.hpp"

namespace {

using vkv::redis::detail::key_slot;

class RedisCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new vkv_test::LocalCluster(); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(cluster_->ready()) << "the cluster did not form"; }

  static vkv::redis::Options options(const std::string& entity) {
    vkv::redis::Options options;
    options.nodes = {cluster_->node(0).uri()};  // one seed: the rest is learned
    options.cluster = true;
    options.entity_type = entity;
    options.connections_per_node = 2;
    return options;
  }
  static vkv_test::LocalCluster* cluster_;
};
vkv_test::LocalCluster* RedisCluster::cluster_ = nullptr;

TEST_F(RedisCluster, RecordsSpreadOverEveryMasterAndAreFoundFromOneSeed) {
  vkv::redis::Store<long> store(options("Spread"));
  constexpr int kRecords = 120;
  std::vector<std::string> ids;
  std::set<int> owners;
  for (int i = 0; i < kRecords; ++i) {
    ids.push_back("id-" + std::to_string(i));
    store.create(ids.back(), i);
    owners.insert(vkv_test::LocalCluster::initial_owner(key_slot("vkv:Spread:" + ids.back())));
  }
  EXPECT_EQ(owners.size(), 3u);
  for (int n = 0; n < 3; ++n) {
    EXPECT_NE(cluster_->node(n).command({"DBSIZE"}), "0") << "node " << n;
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
  const int from = vkv_test::LocalCluster::initial_owner(slot);
  const int to = (from + 1) % 3;
  const auto created = store.create(id, "v1");  // the store now maps the slot to `from`
  auto& source = cluster_->node(from);
  auto& target = cluster_->node(to);
  const std::string source_id = cluster_->node_id(from);
  const std::string target_id = cluster_->node_id(to);
  ASSERT_EQ(target.command({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source_id}),
            "OK");
  ASSERT_EQ(source.command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target_id}),
            "OK");
  ASSERT_EQ(
      source.command({"MIGRATE", "127.0.0.1", std::to_string(target.port()), key, "0", "5000"}),
      "OK");
  // The key now lives on `to`; `from` answers ASK for it.
  const auto during = store.update_with_version(id, created.version, "v2");
  EXPECT_EQ(during.revision, 2u);
  // (Read straight from `to` only after the migration: it answers MOVED to a client
  // that did not send ASKING.)
  EXPECT_EQ(store.find(id)->value, "v2");

  for (int n = 0; n < 3; ++n) {
    cluster_->node(n).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target_id});
  }
  // `from` now answers MOVED; the store updates its map and goes to `to`.
  const auto after = store.update_with_version(id, during.version, "v3");
  EXPECT_EQ(after.revision, 3u);
  EXPECT_EQ(target.command({"HGET", key, "value"}), "v3");
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
  const int from = vkv_test::LocalCluster::initial_owner(slot);
  const int to = (from + 1) % 3;
  auto& source = cluster_->node(from);
  const std::string source_id = cluster_->node_id(from);
  const std::string target_id = cluster_->node_id(to);
  cluster_->node(to).command({"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", source_id});
  source.command({"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", target_id});
  ASSERT_EQ(source.command({"MIGRATE", "127.0.0.1", std::to_string(cluster_->node(to).port()),
                            key_a, "0", "5000"}),
            "OK");
  vkv::Transaction<std::string> tx;
  tx.update("{split}:a", a.version, "a2").update("{split}:b", b.version, "b2");
  auto refused = store.try_commit(tx);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), vkv::Errc::unavailable);
  EXPECT_NE(refused.error_info().reason.find("TRYAGAIN"), std::string::npos)
      << refused.error_info().reason;

  ASSERT_EQ(source.command({"MIGRATE", "127.0.0.1", std::to_string(cluster_->node(to).port()),
                            "vkv:Split:{split}:b", "0", "5000"}),
            "OK");
  for (int n = 0; n < 3; ++n) {
    cluster_->node(n).command({"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", target_id});
  }
  const auto records = store.commit(tx);
  EXPECT_EQ(records[0].value, "a2");
  EXPECT_EQ(records[1].value, "b2");
  EXPECT_EQ(records[0].revision, 2u);  // the refused attempts applied nothing
}

}  // namespace
