// The cache members of the contract (include/vkv/store.hpp; docs/guide.md, "A cache": put,
// find_or_create) over the stores that have them: vkv::redis::Store on one server and on the
// cluster, and the in-process vkv::Store once it has them (detected at compile time; the cache
// branch adds them). Expiry (WriteOptions::ttl as the key's own Redis expiry): redis only.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "redis/contract_fixture.hpp"
#include "support/redis/admin.hpp"

namespace vkv_test::redis {
namespace {

template <class S>
concept HasCacheMembers = requires(S& s, std::string id) {
  s.put(id, id);
  s.find_or_create(id, [] { return std::string(); });
};

using CacheBackends =
    std::conditional_t<HasCacheMembers<vkv::Store<std::string>>,
                       ::testing::Types<InProcessBackend, RedisSingleBackend, RedisClusterBackend>,
                       ::testing::Types<RedisSingleBackend, RedisClusterBackend>>;

template <class B>
using Cache = StoreContract<B>;
TYPED_TEST_SUITE(Cache, CacheBackends, BackendNames);

TYPED_TEST(Cache, PutCreatesOrReplacesWhateverTheVersion) {
  auto& s = this->store();
  const auto first = s.put("p", "one");
  EXPECT_EQ(first.revision, 1u);
  EXPECT_EQ(first.value, "one");
  const auto second = s.put("p", "two");
  EXPECT_EQ(second.revision, 2u);
  EXPECT_NE(second.version, first.version);
  const auto deleted = s.soft_delete("p", second.version);
  const auto third = s.put("p", "three");  // replaces a soft-deleted record too
  EXPECT_FALSE(third.deleted);
  EXPECT_EQ(third.revision, deleted.revision + 1);
  EXPECT_TRUE(same_record(*s.find("p"), third));
  EXPECT_EQ(s.stats().creates, 1u);
}

TYPED_TEST(Cache, FindOrCreateCreatesOnceAndRacersShareTheRecord) {
  auto& s = this->store();
  int calls = 0;
  const auto made = s.find_or_create("f", [&] {
    ++calls;
    return std::string("made");
  });
  EXPECT_EQ(made.value, "made");
  EXPECT_EQ(made.revision, 1u);
  const auto again = s.find_or_create("f", [&] {
    ++calls;
    return std::string("other");
  });
  EXPECT_TRUE(same_record(again, made));
  EXPECT_EQ(calls, 1);
  s.soft_delete("f", made.version);
  EXPECT_THROW(s.find_or_create("f", [] { return std::string("x"); }), vkv::DuplicateKeyError);
  // Racing callers on one absent id all return the one record that was created.
  constexpr int kThreads = 4;
  std::vector<typename TestFixture::record_type> seen(kThreads,
                                                      typename TestFixture::record_type{});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(
        [&, t] { seen[t] = s.find_or_create("race", [t] { return "by-" + std::to_string(t); }); });
  }
  for (auto& th : threads) th.join();
  for (int t = 1; t < kThreads; ++t) EXPECT_TRUE(same_record(seen[t], seen[0])) << t;
  EXPECT_TRUE(same_record(*s.find("race"), seen[0]));
}

// Redis only: a write's ttl is the key's own expiry, set by the same script.
TEST(RedisCache, TtlIsTheKeysRedisExpiry) {
  StoreSpec spec;
  spec.entity_type = unique_entity("Ttl");
  auto s = RedisSingleBackend::make(spec);
  const auto r = s->create("t", "v", vkv::WriteOptions{.ttl = std::chrono::milliseconds(300)});
  ASSERT_TRUE(r.expires_at.has_value());
  EXPECT_GT(*r.expires_at, std::chrono::steady_clock::now());
  Admin admin("127.0.0.1", shared_server().port());
  const long long pttl = admin.checked({"PTTL", "vkv:" + spec.entity_type + ":t"}).integer;
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 300);
  // Gone once expired (polled: the server expires it), and the id can be created again.
  EXPECT_TRUE(poll_until(std::chrono::seconds(10), [&] { return !s->find("t").has_value(); }));
  EXPECT_EQ(s->create("t", "again").revision, 1u);
  EXPECT_EQ(admin.checked({"PTTL", "vkv:" + spec.entity_type + ":t"}).integer, -1);  // no ttl
}

}  // namespace
}  // namespace vkv_test::redis
