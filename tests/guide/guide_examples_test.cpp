// Promises docs/guide.md makes that its examples cannot show deterministically.
//
// The guide's own examples are compiled from docs/guide.md into
// guide_examples_generated.cpp in the build tree (tools/docs/extract-guide-snippets.py); the
// tests here go in the same binary and check guarantees the guide states in prose
// ("Concurrency guarantees"), which need many rounds to be able to fail.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <latch>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

int scaled(int n) {
  const char* scale = std::getenv("VKV_STRESS_SCALE");
  const int factor = scale != nullptr ? std::max(1, std::atoi(scale)) : 1;
  return n * factor;
}

// docs/guide.md, "Concurrency guarantees": for_each is weakly consistent; it visits
// each record at most once, and visits every record that exists for the whole
// traversal. Here no record is created or erased while for_each runs; another thread
// only reads (find), which must not disturb the traversal.
TEST(GuideContract, ForEachVisitsEachRecordOnceWhileAnotherThreadReads) {
  // tbb::concurrent_hash_map splits a bucket lazily on its first lookup after the
  // table grew, moving entries between bucket chains; before ShardedIndex::visit_shard
  // finished those splits itself, a concurrent find could move entries under the
  // iterator and for_each visited records twice (about one round in five here).
  constexpr int kRecords = 2'000;
  const int rounds = scaled(100);
  std::vector<std::string> keys;
  for (int i = 0; i < kRecords; ++i) keys.push_back("k" + std::to_string(i));

  int bad_rounds = 0;
  std::size_t first_bad_visits = 0;
  std::size_t finds_done = 0;
  for (int round = 0; round < rounds; ++round) {
    // A fresh store per round: its index has just grown, which is when the
    // traversal is most exposed to what concurrent lookups do to the table.
    vkv::Store<long> store(vkv::StoreOptions{.entity_type = "Record", .shards = 1});
    for (int i = 0; i < kRecords; ++i) store.create(keys[static_cast<std::size_t>(i)], i);

    std::latch start(2);
    std::size_t finds = 0;
    std::thread reader([&] {
      start.arrive_and_wait();
      for (const std::string& key : keys) finds += store.find(key).has_value() ? 1 : 0;
    });
    start.arrive_and_wait();
    std::unordered_map<std::string, int> visits;
    store.for_each([&](const vkv::Record<long>& record) { ++visits[record.id]; });
    reader.join();
    finds_done += finds;

    std::size_t total = 0;
    bool once_each = visits.size() == static_cast<std::size_t>(kRecords);
    for (const auto& [id, count] : visits) {
      total += static_cast<std::size_t>(count);
      once_each = once_each && count == 1;
    }
    if (!once_each) {
      if (bad_rounds == 0) first_bad_visits = total;
      ++bad_rounds;
    }
  }
  EXPECT_EQ(finds_done, static_cast<std::size_t>(rounds) * kRecords);  // every find hit
  EXPECT_EQ(bad_rounds, 0) << "rounds where some record was visited twice or missed, of " << rounds
                           << "; the first one made " << first_bad_visits << " visits for "
                           << kRecords << " records";
}

}  // namespace
