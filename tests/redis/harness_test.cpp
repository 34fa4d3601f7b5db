// The redis test harness itself (tests/support/redis): a server that starts, answers, keeps
// acknowledged writes across kill -9 and restart, and a cluster that is created, routes
// keys, and survives a graceful failover with its data.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "support/redis/admin.hpp"
#include "support/redis/cluster.hpp"
#include "support/redis/server.hpp"

namespace vkv_test::redis {
namespace {

TEST(RedisHarness, ServerKeepsAcknowledgedWritesAcrossKillNine) {
  TempDir dir;
  RedisServer server(dir.path());
  const pid_t first_pid = server.pid();
  ASSERT_GT(first_pid, 0);
  {
    Admin admin(server.host(), server.port());
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(admin.checked({"SET", "k" + std::to_string(i), std::to_string(i * 7)}).text, "OK");
    }
  }
  const int port = server.port();
  server.kill9();
  EXPECT_FALSE(server.running());
  EXPECT_FALSE(Admin::ping("127.0.0.1", port));
  EXPECT_EQ(::kill(first_pid, 0), -1);  // reaped: the pid is gone
  server.restart();
  EXPECT_EQ(server.port(), port);
  EXPECT_NE(server.pid(), first_pid);
  Admin admin(server.host(), server.port());
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(admin.checked({"GET", "k" + std::to_string(i)}).text, std::to_string(i * 7)) << i;
  }
  EXPECT_EQ(admin.checked({"DBSIZE"}).integer, 50);
}

TEST(RedisHarness, TwoServersGetDistinctPortsAndDie) {
  TempDir dir;
  pid_t pid = 0;
  int port = 0;
  {
    RedisServer a(dir.path() / "a");
    RedisServer b(dir.path() / "b");
    EXPECT_NE(a.port(), b.port());
    EXPECT_TRUE(Admin::ping("127.0.0.1", a.port()));
    EXPECT_TRUE(Admin::ping("127.0.0.1", b.port()));
    pid = a.pid();
    port = a.port();
  }
  EXPECT_EQ(::kill(pid, 0), -1);  // the destructor killed and reaped it
  EXPECT_FALSE(Admin::ping("127.0.0.1", port));
}

TEST(RedisHarness, ClusterCreatesRoutesAndFailsOverGracefully) {
  RedisCluster cluster;
  ASSERT_EQ(cluster.size(), 6u);
  int masters = 0, replicas = 0;
  for (const auto& n : cluster.topology()) {
    (n.master ? masters : replicas) += 1;
    EXPECT_FALSE(n.failed) << n.port;
  }
  EXPECT_EQ(masters, 3);
  EXPECT_EQ(replicas, 3);
  // A key lands on the master serving its slot; a hash tag pins two keys to one slot.
  EXPECT_EQ(cluster.key_slot("{user1}:a"), cluster.key_slot("{user1}:b"));
  const int slot = cluster.key_slot("harness-key");
  const int master = cluster.master_port_of_slot(slot);
  {
    Admin admin("127.0.0.1", master);
    ASSERT_EQ(admin.checked({"SET", "harness-key", "v1"}).text, "OK");
    // Replicated before the failover is requested: WAIT for one replica.
    ASSERT_EQ(admin.checked({"WAIT", "1", "5000"}).integer, 1);
  }
  const int promoted = cluster.graceful_failover(master);
  EXPECT_NE(promoted, master);
  EXPECT_EQ(cluster.master_port_of_slot(slot), promoted);
  Admin admin("127.0.0.1", promoted);
  EXPECT_EQ(admin.checked({"GET", "harness-key"}).text, "v1");
  // The old master now refuses the key with a redirection to the new one.
  Admin old("127.0.0.1", master);
  const Reply moved = old.command({"GET", "harness-key"});
  ASSERT_TRUE(moved.is_error());
  EXPECT_NE(moved.text.find("MOVED " + std::to_string(slot)), std::string::npos) << moved.text;
}

}  // namespace
}  // namespace vkv_test::redis
