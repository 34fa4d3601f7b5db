// Node URI parsing (vkv::redis::detail::parse_uri).
#include <gtest/gtest.h>

#include <stdexcept>

#include "vkv/redis/detail/keys.hpp"

namespace {

using vkv::redis::detail::Address;
using vkv::redis::detail::parse_uri;

TEST(RedisUri, HostAndPort) {
  EXPECT_EQ(parse_uri("redis://127.0.0.1:7000"), (Address{"127.0.0.1", 7000}));
  EXPECT_EQ(parse_uri("redis://cache-1.example.org:6380"), (Address{"cache-1.example.org", 6380}));
  EXPECT_EQ(parse_uri("redis://localhost:1/"), (Address{"localhost", 1}));
}

TEST(RedisUri, DefaultPortIs6379) {
  EXPECT_EQ(parse_uri("redis://10.0.0.2"), (Address{"10.0.0.2", 6379}));
  EXPECT_EQ(parse_uri("redis://localhost"), (Address{"localhost", 6379}));
}

TEST(RedisUri, MalformedIsRefusedWithTheUriInTheMessage) {
  for (const char* uri :
       {"", "127.0.0.1:6379", "http://h:1", "redis://", "redis://:6379",
        "redis://h:", "redis://h:0", "redis://h:65536", "redis://h:12x", "redis://h:-1",
        "redis://h h:1", "redis://user@h:1", "redis://u:@h:1", "redis://[::1", "redis://[::1]x",
        "redis://[zz]:1", "redis://h:1:2", "rediss://h:1"}) {
    try {
      parse_uri(uri);
      ADD_FAILURE() << "accepted " << uri;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("\"") + uri + "\""), std::string::npos)
          << e.what();
    }
  }
}

TEST(RedisUri, Ipv6LiteralsInBrackets) {
  EXPECT_EQ(parse_uri("redis://[::1]:7000"), (Address{"::1", 7000}));
  EXPECT_EQ(parse_uri("redis://[fe80::1:2]"), (Address{"fe80::1:2", 6379}));
  EXPECT_EQ((Address{"::1", 7000}).text(), "[::1]:7000");
}

TEST(RedisUri, CredentialsBeforeTheHost) {
  vkv::redis::detail::Credentials c;
  EXPECT_EQ(parse_uri("redis://alice:s3cr@t@h:1", &c), (Address{"h", 1}));
  EXPECT_EQ(c.user, "alice");
  EXPECT_EQ(c.password, "s3cr@t");
  vkv::redis::detail::Credentials d;
  EXPECT_EQ(parse_uri("redis://:pw@[::1]:2", &d), (Address{"::1", 2}));
  EXPECT_EQ(d.user, "");
  EXPECT_EQ(d.password, "pw");
}

TEST(RedisRedirect, HostPortEmptyHostAndIpv6) {
  using vkv::redis::detail::parse_redirect;
  const Address from{"10.0.0.7", 7001};
  Address to;
  ASSERT_TRUE(parse_redirect("MOVED 3999 127.0.0.1:6381", from, to));
  EXPECT_EQ(to, (Address{"127.0.0.1", 6381}));
  ASSERT_TRUE(parse_redirect("MOVED 3999 :6390", from, to));  // Redis 7: endpoint unknown
  EXPECT_EQ(to, (Address{"10.0.0.7", 6390}));
  ASSERT_TRUE(parse_redirect("ASK 12 ::1:7000", from, to));
  EXPECT_EQ(to, (Address{"::1", 7000}));
  ASSERT_TRUE(parse_redirect("MOVED 12 [fe80::2]:7000", from, to));
  EXPECT_EQ(to, (Address{"fe80::2", 7000}));
  EXPECT_FALSE(parse_redirect("MOVED 12 host", from, to));
  EXPECT_FALSE(parse_redirect("MOVED 12 host:0", from, to));
  EXPECT_FALSE(parse_redirect("MOVED 12 host:7x", from, to));
}

}  // namespace
