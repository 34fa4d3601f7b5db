// Node recycling: a steady stream of updates of a trivially copyable value makes no
// call to the global allocator (issue: "zero calls per steady-state update"). This
// binary replaces global operator new to count the calls.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "vkv/vkv.hpp"

namespace {
// relaxed: a count read by the test's own thread after the measured loop.
std::atomic<std::uint64_t> allocations{0};
}  // namespace

// The replacements allocate with malloc/aligned_alloc and free with free, which match;
// gcc only sees `new` paired with `free` once it inlines them, and warns.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace {

struct Pod {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;  // 32 bytes, trivially copyable
};
static_assert(std::is_trivially_copyable_v<Pod>);

constexpr int kKeys = 64;

std::vector<std::string> keys() {
  std::vector<std::string> out;
  for (int i = 0; i < kKeys; ++i) out.push_back("key-" + std::to_string(i));  // inline (SSO)
  return out;
}

TEST(NodePool, SteadyStateUpdateWithVersionCallsNoAllocator) {
  vkv::Store<Pod> store;
  const auto ids = keys();
  std::vector<vkv::Version> versions;
  for (const auto& id : ids) versions.push_back(store.create(id, Pod{}).version);
  auto run = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < kKeys; ++k) {
        Pod v{static_cast<std::uint64_t>(r), 0, 0, 0};
        versions[k] = store.update_with_version(ids[k], versions[k], v).version;
      }
    }
  };
  run(200);  // warm-up: pools fill, the retirement list reaches its capacity
  const std::uint64_t before = allocations.load(std::memory_order_relaxed);
  run(2000);  // 128,000 updates
  const std::uint64_t during = allocations.load(std::memory_order_relaxed) - before;
  EXPECT_EQ(during, 0u) << "global allocations during 128,000 steady-state updates";
  for (int k = 0; k < kKeys; ++k) {
    const auto r = store.find(ids[k]);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->revision, 1u + 2200u);
    EXPECT_EQ(r->value.a, 1999u);
  }
}

TEST(NodePool, SteadyStateUpdateWithRetryCallsNoAllocator) {
  vkv::Store<Pod> store;
  const auto ids = keys();
  for (const auto& id : ids) store.create(id, Pod{});
  auto run = [&](int rounds) {
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < kKeys; ++k) store.update_with_retry(ids[k], [](Pod& p) { ++p.a; });
    }
  };
  run(200);
  const std::uint64_t before = allocations.load(std::memory_order_relaxed);
  run(2000);
  const std::uint64_t during = allocations.load(std::memory_order_relaxed) - before;
  EXPECT_EQ(during, 0u) << "global allocations during 128,000 steady-state updates";
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(store.find(ids[k])->value.a, 2200u);
}

// The counter can see allocations at all (the test could fail): a create allocates.
TEST(NodePool, CounterSeesAllocations) {
  vkv::Store<Pod> store;
  const std::uint64_t before = allocations.load(std::memory_order_relaxed);
  store.create("a-key-long-enough-to-leave-the-inline-buffer", Pod{});
  EXPECT_GT(allocations.load(std::memory_order_relaxed), before);
}

}  // namespace
