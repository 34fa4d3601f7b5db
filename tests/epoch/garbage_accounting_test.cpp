// The garbage bound counts what a retirement really holds (detail/epoch.hpp, "Bounds";
// docs/design.md, "Bounded garbage, in bytes"): an erased index entry with the heap
// its key owns (a key past std::string's 15-character buffer), and a commit's
// descriptor with its entries and its copies of the keys. The test holds a Guard, so
// nothing retired during it can be freed, and compares pending_bytes() with a lower
// bound of what was retired.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "vkv/detail/epoch.hpp"
#include "vkv/vkv.hpp"

namespace {

namespace epoch = vkv::detail::epoch;

constexpr std::size_t kKeyChars = 1000;  // heap capacity >= 1001 bytes per key copy

std::string long_key(int i) {
  std::string key = "order-" + std::to_string(i) + "-";
  key.resize(kKeyChars, static_cast<char>('a' + i % 26));
  return key;
}

TEST(GarbageAccounting, AnErasedEntryCountsItsKeysHeap) {
  vkv::Store<int> store;
  constexpr int kRecords = 64;
  std::vector<vkv::Version> versions;
  for (int i = 0; i < kRecords; ++i) versions.push_back(store.create(long_key(i), i).version);
  ASSERT_EQ(epoch::drain(), 0u) << "garbage left by an earlier step";
  const std::size_t before = epoch::pending_bytes();
  {
    epoch::Guard held;  // nothing retired from here on can be freed until it ends
    for (int i = 0; i < kRecords; ++i) store.erase(long_key(i), versions[i]);
    const std::size_t retired = epoch::pending_bytes() - before;
    // Each erase retires the record's node and its index entry, whose key alone holds
    // kKeyChars + 1 heap bytes.
    EXPECT_GE(retired, kRecords * (kKeyChars + 1)) << "retired " << retired << " bytes";
  }
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(epoch::drain(), 0u);
}

TEST(GarbageAccounting, ACommitsDescriptorCountsItsKeyCopies) {
  vkv::Store<int> store;
  constexpr int kEntries = 16;
  std::vector<vkv::Version> versions;
  for (int i = 0; i < kEntries; ++i) versions.push_back(store.create(long_key(i), i).version);
  vkv::Transaction<int> tx;
  for (int i = 0; i < kEntries; ++i) tx.update(long_key(i), versions[i], i + 100);
  ASSERT_EQ(epoch::drain(), 0u) << "garbage left by an earlier step";
  const std::size_t before = epoch::pending_bytes();
  {
    epoch::Guard held;
    const auto records = store.commit(tx);
    ASSERT_EQ(records.size(), static_cast<std::size_t>(kEntries));
    const std::size_t retired = epoch::pending_bytes() - before;
    // The replaced nodes hold small ints; the descriptor holds a copy of every key.
    EXPECT_GE(retired, kEntries * (kKeyChars + 1)) << "retired " << retired << " bytes";
  }
  for (int i = 0; i < kEntries; ++i) EXPECT_EQ(store.find(long_key(i))->value, i + 100);
  EXPECT_EQ(epoch::drain(), 0u);
}

}  // namespace
