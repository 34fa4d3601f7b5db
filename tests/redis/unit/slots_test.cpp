// Cluster key slots: CRC16 (XMODEM) and hash tags, against the cluster spec's vectors.
#include <gtest/gtest.h>

#include "vkv/redis/detail/keys.hpp"

namespace {

using vkv::redis::detail::crc16;
using vkv::redis::detail::hash_tag;
using vkv::redis::detail::key_slot;

TEST(RedisSlots, Crc16MatchesTheSpecTestVector) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // Redis Cluster spec, "Keys distribution model"
  EXPECT_EQ(crc16(""), 0);
}

TEST(RedisSlots, KnownKeySlots) {
  EXPECT_EQ(key_slot("foo"), 12182);  // CLUSTER KEYSLOT foo
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("hello"), 866);
  EXPECT_EQ(key_slot("123456789"), 0x31C3 & 16383);
}

TEST(RedisSlots, HashTags) {
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(hash_tag("{open"), "{open");
  EXPECT_EQ(hash_tag("vkv:Order:{cust-1}:a"), "cust-1");
  EXPECT_EQ(key_slot("vkv:Order:{cust-1}:a"), key_slot("vkv:Order:{cust-1}:b"));
}

}  // namespace
