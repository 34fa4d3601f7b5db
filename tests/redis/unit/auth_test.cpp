// AUTH from the URI and the script digests learned from SCRIPT LOAD,
// against a redis-server this test starts (and kills by pid).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "scripts.hpp"
#include "support/redis/admin.hpp"
#include "support/redis/server.hpp"
#include "vkv/redis.hpp"

namespace {

using vkv_test::redis::Admin;
using vkv_test::redis::RedisServer;
using vkv_test::redis::ServerOptions;
using vkv_test::redis::TempDir;
using Store = vkv::redis::Store<std::string>;

vkv::redis::Options with_uri(const std::string& uri) {
  vkv::redis::Options o;
  o.nodes = {uri};
  o.entity_type = "Auth";
  o.connections_per_node = 2;
  return o;
}

TEST(RedisAuth, PasswordFromTheUriIsSentAndAWrongOrMissingOneIsRefused) {
  TempDir dir("vkv-redis-auth");
  ServerOptions options;
  options.durable = false;
  RedisServer server(dir.path() / "auth", options);
  const std::string password = "s3cret-pass-0f9e8d7c";
  Admin(server.host(), server.port()).checked({"CONFIG", "SET", "requirepass", password});
  const std::string where = server.host() + ":" + std::to_string(server.port());

  Store good(with_uri("redis://:" + password + "@" + where));
  const std::string id = "2b7e1516-28ae-4d2a-a6ab-f7158809cf4f";
  const auto created = good.create(id, std::string(120, 'a'));
  Store named(with_uri("redis://default:" + password + "@" + where));  // ACL user form
  ASSERT_TRUE(named.find(id));
  EXPECT_EQ(named.find(id)->version, created.version);

  Store none(with_uri("redis://" + where));
  const auto refused = none.try_update_with_version(id, created.version, "b");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), vkv::Errc::unavailable) << refused.error_info().reason;
  Store wrong(with_uri("redis://:not-it@" + where));
  EXPECT_THROW(wrong.find(id), vkv::UnavailableError);
  EXPECT_EQ(good.find(id)->version, created.version);  // neither changed anything
}

// The digests the store uses are the server's: SCRIPT LOAD of each body answers them.
TEST(RedisScripts, DigestsAreTheOnesTheServerReturns) {
  TempDir dir("vkv-redis-sha");
  ServerOptions options;
  options.durable = false;
  RedisServer server(dir.path() / "sha", options);
  Store store(with_uri(server.uri()));
  const auto r = store.create("9c1f0e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f", "v");
  store.find(r.id);
  namespace d = vkv::redis::detail;
  Admin admin(server.host(), server.port());
  for (const d::Script* script : {&d::write_script(), &d::read_script()}) {
    EXPECT_EQ(script->sha(), admin.checked({"SCRIPT", "LOAD", script->body}).text);
  }
}

}  // namespace
