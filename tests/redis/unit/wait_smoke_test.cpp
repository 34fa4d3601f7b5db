// Options::wait_replicas against a real redis-server with no replicas (RedisServer from
// tests/support/redis/: 127.0.0.1, a port it picks, killed by pid): every write is
// followed by WAIT, WAIT counts 0 replicas within wait_timeout, so every write that
// applied is reported as Errc::unknown_outcome / UnknownOutcomeError (docs/redis.md,
// "Consistency") and is there when read; a write that applies nothing is reported as
// usual. The server's own count of WAIT commands proves that WAIT was sent, and sent
// once per round trip. Failover with a replica: tests/redis/fault_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fault_proxy.hpp"
#include "scripts.hpp"
#include "support/redis/admin.hpp"
#include "support/redis/server.hpp"
#include "vkv/redis.hpp"

namespace {

using vkv::Errc;
using vkv::redis::Options;
using vkv_test::redis::Admin;
using vkv_test::redis::info_field;
using vkv_test::redis::RedisServer;
using vkv_test::redis::ServerOptions;
using vkv_test::redis::TempDir;
using Store = vkv::redis::Store<std::string>;

class RedisWait : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions server_options;
    server_options.durable = false;
    server_ = std::make_unique<RedisServer>(dir_.path() / "wait", server_options);
  }

  Options options(int wait_replicas) const {
    Options o;
    o.nodes = {server_->uri()};
    o.entity_type = "Wait";
    o.connections_per_node = 2;
    o.command_timeout = std::chrono::milliseconds(2000);
    o.wait_replicas = wait_replicas;
    o.wait_timeout = std::chrono::milliseconds(20);
    return o;
  }

  // How many WAIT commands the server has run ("cmdstat_wait:calls=N,...").
  long long waits() const {
    Admin admin(server_->host(), server_->port(), std::chrono::milliseconds(2000));
    const auto stats = info_field(admin.checked({"INFO", "commandstats"}).text, "cmdstat_wait");
    if (!stats) return 0;
    return std::stoll(stats->substr(stats->find('=') + 1));
  }

  TempDir dir_{"vkv-redis-wait"};
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisWait, OffByDefaultSendsNoWait) {
  Store plain(options(0));
  const auto a = plain.create("a", "1");
  plain.update_with_version("a", a.version, "2");
  EXPECT_EQ(waits(), 0);
}

TEST_F(RedisWait, ShortOfReplicasIsUnknownOutcomeAndTheWriteIsThere) {
  Store plain(options(0));
  Store waiting(options(1));
  const auto a = plain.create("a", "1");

  long long before = waits();
  auto updated = waiting.try_update_with_version("a", a.version, "2");
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.error(), Errc::unknown_outcome);
  EXPECT_NE(updated.error_info().reason.find("WAIT counted 0 of 1"), std::string::npos)
      << updated.error_info().reason;
  EXPECT_EQ(waits(), before + 1);
  const auto now = plain.find("a");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->value, "2");  // applied on the master: never reported as not applied

  // A write that applies nothing is decided by its script alone.
  auto stale = waiting.try_update_with_version("a", a.version, "3");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error(), Errc::conflict);
  EXPECT_THROW(waiting.create("a", "again"), vkv::DuplicateKeyError);

  EXPECT_THROW(waiting.create("b", "1"), vkv::UnknownOutcomeError);
  EXPECT_EQ(plain.find("b")->value, "1");
  EXPECT_THROW(waiting.put("c", "1"), vkv::UnknownOutcomeError);
  EXPECT_EQ(plain.find("c")->value, "1");
  EXPECT_THROW(waiting.find_or_create("d", [] { return std::string("1"); }),
               vkv::UnknownOutcomeError);
  EXPECT_EQ(plain.find("d")->value, "1");
  const auto b = plain.find("b");
  EXPECT_THROW(waiting.soft_delete("b", b->version), vkv::UnknownOutcomeError);
  EXPECT_TRUE(plain.find("b", vkv::ReadOptions{.include_soft_deleted = true})->deleted);
}

TEST_F(RedisWait, BatchesSendOneWaitPerRoundTripAndCommitsWaitToo) {
  Store plain(options(0));
  Store waiting(options(1));
  const auto a = plain.create("a", "1");
  const auto b = plain.create("b", "2");

  long long before = waits();
  using W = Store::VersionedWrite;
  const std::vector<W> writes = {{"a", a.version, "1b"}, {"b", a.version, "2b"}};
  const auto results = waiting.update_many(writes);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].error(), Errc::unknown_outcome);
  EXPECT_EQ(results[1].error(), Errc::conflict);  // applied nothing
  EXPECT_EQ(waits(), before + 1);
  const auto a2 = plain.find("a");
  EXPECT_EQ(a2->value, "1b");

  // Loads the commit script: a NOSCRIPT round trip (EVALSHA refused, then EVAL) would
  // carry a WAIT of its own.
  vkv::Transaction<std::string> load;
  load.check("b", b.version);
  plain.commit(load);
  before = waits();
  vkv::Transaction<std::string> tx;
  tx.update("a", a2->version, "1c").check("b", b.version);
  auto committed = waiting.try_commit(tx);
  ASSERT_FALSE(committed.ok());
  EXPECT_EQ(committed.error(), Errc::unknown_outcome);
  EXPECT_EQ(waits(), before + 1);
  EXPECT_EQ(plain.find("a")->value, "1c");

  vkv::Transaction<std::string> stale;
  stale.update("a", a2->version, "1d");
  auto refused = waiting.try_commit(stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), Errc::conflict);
  EXPECT_EQ(plain.find("a")->value, "1c");
}

// A write whose reply is lost is resolved by a fence, and the fence is followed by WAIT
// too: found committed but unconfirmed by a replica, it is unknown_outcome, not success.
TEST_F(RedisWait, LostReplyResolvedCommittedIsStillShortOfReplicas) {
  vkv_test::FaultProxy proxy(server_->port());
  Options o = options(1);
  o.nodes = {proxy.uri()};
  o.command_timeout = std::chrono::milliseconds(300);
  Store waiting(o);
  Store plain(options(0));
  const auto a = plain.create("a", "1");
  {  // the fence script loaded: no NOSCRIPT round trip (and its own WAIT) below
    Admin admin(server_->host(), server_->port(), std::chrono::milliseconds(2000));
    admin.checked({"SCRIPT", "LOAD", vkv::redis::detail::fence_script().body});
  }
  proxy.drop_next_reply();
  const long long before = waits();
  auto updated = waiting.try_update_with_version("a", a.version, "2");
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.error(), Errc::unknown_outcome);
  EXPECT_NE(updated.error_info().reason.find("sent, no reply"), std::string::npos)
      << updated.error_info().reason;
  EXPECT_NE(updated.error_info().reason.find("WAIT counted 0 of 1"), std::string::npos)
      << updated.error_info().reason;
  EXPECT_EQ(waits(), before + 2);  // the write's, then the fence's
  EXPECT_EQ(plain.find("a")->value, "2");
}

}  // namespace
