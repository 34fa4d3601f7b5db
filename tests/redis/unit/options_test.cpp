// vkv::redis::Store's constructor checks, and checks made before anything is sent.
// No server: every store here points at a port nothing listens on, and the tests
// prove that the refusals come without a connection attempt.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "vkv/redis.hpp"

namespace {

using vkv::redis::Options;
using Store = vkv::redis::Store<std::string>;

Options options_at(std::string uri) {
  Options options;
  options.nodes = {std::move(uri)};
  options.connect_timeout = std::chrono::milliseconds(200);
  options.command_timeout = std::chrono::milliseconds(200);
  return options;
}

TEST(RedisOptions, MalformedUriThrowsInTheConstructor) {
  EXPECT_THROW(Store(options_at("127.0.0.1:6379")), std::invalid_argument);
  EXPECT_THROW(Store(options_at("redis://h:99999")), std::invalid_argument);
  Options none = options_at("redis://127.0.0.1:1");
  none.nodes.clear();
  EXPECT_THROW(Store{none}, std::invalid_argument);
}

TEST(RedisOptions, BracesInPrefixOrEntityTypeThrow) {
  Options prefix = options_at("redis://127.0.0.1:1");
  prefix.key_prefix = "app{1}";
  EXPECT_THROW(Store{prefix}, std::invalid_argument);
  Options type = options_at("redis://127.0.0.1:1");
  type.entity_type = "Order}";
  EXPECT_THROW(Store{type}, std::invalid_argument);
  Options fine = options_at("redis://127.0.0.1:1");
  fine.key_prefix = "app:1";
  EXPECT_NO_THROW(Store{fine});  // lazy: nothing listens there, nothing is tried yet
}

TEST(RedisOptions, MaxIdleMustBePositive) {
  Options zero = options_at("redis://127.0.0.1:1");
  zero.max_idle = std::chrono::milliseconds(0);
  EXPECT_THROW(Store{zero}, std::invalid_argument);
  Options fine = options_at("redis://127.0.0.1:1");
  fine.max_idle = std::chrono::milliseconds(1);
  EXPECT_NO_THROW(Store{fine});
}

TEST(RedisOptions, WaitNeedsATimeoutShorterThanTheCommandTimeout) {
  Options negative = options_at("redis://127.0.0.1:1");
  negative.wait_replicas = -1;
  EXPECT_THROW(Store{negative}, std::invalid_argument);
  Options forever = options_at("redis://127.0.0.1:1");
  forever.wait_replicas = 1;
  forever.wait_timeout = std::chrono::milliseconds(0);  // WAIT n 0 would block forever
  EXPECT_THROW(Store{forever}, std::invalid_argument);
  Options too_long = options_at("redis://127.0.0.1:1");
  too_long.wait_replicas = 1;
  too_long.wait_timeout = too_long.command_timeout;
  EXPECT_THROW(Store{too_long}, std::invalid_argument);
  Options fine = options_at("redis://127.0.0.1:1");
  fine.wait_replicas = 1;
  fine.wait_timeout = std::chrono::milliseconds(50);
  EXPECT_NO_THROW(Store{fine});
  Options off = options_at("redis://127.0.0.1:1");
  off.wait_timeout = std::chrono::milliseconds(0);  // ignored while wait_replicas is 0
  EXPECT_NO_THROW(Store{off});
}

}  // namespace

// Every member compiles for the three codec families (instantiated, never run).
struct Pod {
  int a;
  double b;
};
template class vkv::redis::Store<std::string>;
template class vkv::redis::Store<long>;
template class vkv::redis::Store<Pod>;

[[maybe_unused]] void instantiate_member_templates(vkv::redis::Store<long>& store) {
  const vkv::Version v;
  store.visit("a", [](const vkv::RecordView<long, std::string>&) {});
  store.update_with_version("a", v, 1, {}, [](auto record) { return record.revision; });
  store.patch_with_version("a", v, [](long& x) { ++x; });
  (void)store.try_patch_with_version("a", v, [](long& x) { ++x; });
  store.update_with_retry("a", [](long& x) { ++x; });
  store.find_or_create("a", [] { return 1L; });
  store.for_each([](const vkv::Record<long>&) {});
}
