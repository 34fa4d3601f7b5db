// The conflict path is lock-free: a failed version check records
// the key in the hot-key sketch (detail/hot_keys.hpp), and no thread that is preempted
// while it updates a stripe may hold up another thread's failed write. The test parks a
// thread inside a stripe (detail::hot_key_stripe_hook, called while record() holds it)
// and has another thread fail a version check on a key of the same stripe: the second
// write must complete while the first stays parked. A stripe guarded by a mutex would
// block it until the parked thread was let go.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vkv/vkv.hpp>

namespace {

using namespace std::chrono_literals;

std::atomic<bool> parked{false};
std::atomic<bool> let_go{false};
std::atomic<int> hook_calls{0};

// Parks the first caller until the test lets it go.
void park_first_caller() {
  // relaxed: a count; only the first caller parks.
  if (hook_calls.fetch_add(1, std::memory_order_relaxed) != 0) return;
  parked.store(true, std::memory_order_release);  // pairs with the test's acquire
  // acquire: pairs with the test's release.
  while (!let_go.load(std::memory_order_acquire)) std::this_thread::yield();
}

using SStore = vkv::Store<std::string>;

TEST(HotKeys, AFailedWriteCompletesWhileAnotherThreadHoldsItsStripe) {
  SStore store;
  // A UUID-shaped id (36 characters) and a value that owns heap memory.
  const std::string id = "0b7e4a52-9d13-4c6f-8e2a-71f3c5d9b084";
  const std::string value(64, 'v');
  const auto created = store.create(id, value);
  const vkv::Version stale = vkv::detail::next_version();  // a version it never had
  vkv::detail::hot_key_stripe_hook.store(&park_first_caller, std::memory_order_relaxed);

  // The holder: fails a version check and parks inside the stripe's update.
  std::thread holder([&] { (void)store.try_update_with_version(id, stale, value); });
  while (!parked.load(std::memory_order_acquire)) std::this_thread::yield();

  // The loser: the same key, so the same stripe. It must not wait for the holder.
  std::atomic<bool> done{false};
  vkv::Errc loser_error = vkv::Errc::duplicate_key;
  std::thread loser([&] {
    loser_error = store.try_update_with_version(id, stale, value).error();
    done.store(true, std::memory_order_release);  // pairs with the acquire below
  });
  // A liveness check, not a timing one: 30 s is far beyond any scheduling delay; the
  // loser blocked behind a stripe lock never finishes until the holder is let go.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  const bool completed_while_held = done.load(std::memory_order_acquire);
  let_go.store(true, std::memory_order_release);  // pairs with park_first_caller's acquire
  loser.join();
  holder.join();
  vkv::detail::hot_key_stripe_hook.store(nullptr, std::memory_order_relaxed);

  EXPECT_TRUE(completed_while_held) << "the failed write waited for the stripe's holder";
  EXPECT_EQ(loser_error, vkv::Errc::conflict);
  EXPECT_EQ(store.stats().conflicts, 2u);
  // The holder's observation is counted; the loser's may have been dropped (the stripe
  // was busy): the sketch never counts more than happened.
  const auto hot = store.hot_keys(4);
  ASSERT_EQ(hot.size(), 1u);
  EXPECT_EQ(hot[0].entity_id, id);
  EXPECT_GE(hot[0].conflicts, 1u);
  EXPECT_LE(hot[0].conflicts, 2u);
  EXPECT_EQ(store.find(id)->version, created.version);  // nothing was written
}

}  // namespace
