// The epoch's fence mode is the one this run was meant to exercise.
//
// Reclamation orders a reader's announcement before its loads either with a fence on
// every Guard entry (symmetric) or with membarrier() on the rare epoch advance
// (asymmetric, chosen at start-up when the kernel offers it; never under
// ThreadSanitizer, which cannot model it). Which one a test run used is otherwise
// invisible, so a run could claim to have tested the membarrier path without taking
// it. tools/run-tests.sh sets VKV_EXPECT_FENCE for each stage (asymmetric for the dev
// and ASan stages, symmetric for TSan), and this test fails when the library chose
// otherwise, e.g. on a kernel without membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

namespace {

namespace epoch = vkv::detail::epoch;

const char* name(epoch::FenceMode mode) {
  return mode == epoch::FenceMode::asymmetric ? "asymmetric" : "symmetric";
}

TEST(EpochFence, ModeIsTheOneThisRunExpects) {
  const epoch::FenceMode mode = epoch::fence_mode();
  std::cout << "[epoch] fence mode: " << name(mode) << "\n";
  const char* expected = std::getenv("VKV_EXPECT_FENCE");
  const char* forced = std::getenv("VKV_EPOCH_FENCE");
  if (expected == nullptr || *expected == '\0') return;  // a local run: nothing to compare
  if (forced != nullptr && std::string(forced) == "symmetric") {
    EXPECT_STREQ(name(mode), "symmetric") << "VKV_EPOCH_FENCE=symmetric was ignored";
    return;
  }
  EXPECT_STREQ(name(mode), expected);
}

TEST(EpochFence, ReclamationAdvancesInThisMode) {
  // A few advances with another attached thread alive: in the asymmetric mode each one
  // runs membarrier(), so the sanitizer stages see the system call's path run.
  vkv::Store<int> store;
  auto r = store.create("k", 0);
  std::thread other([&] { (void)store.find("k"); });
  other.join();
  const std::uint64_t before = epoch::global_epoch.load(std::memory_order_relaxed);
  for (int i = 0; i < 200; ++i) r = store.update_with_version("k", r.version, i);
  EXPECT_EQ(epoch::drain(), 0u);
  // relaxed: read by the only thread using vkv now.
  EXPECT_GE(epoch::global_epoch.load(std::memory_order_relaxed), before + 3);
}

}  // namespace
