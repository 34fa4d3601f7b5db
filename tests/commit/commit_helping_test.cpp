// Helping between commits terminates (docs/commits.md, "The helping order"). The
// interleaving that would make it recurse without bound is injected
// deterministically through the protocol's preemption hook:
//   commit A on {L, H} (slot address L < H) installs at L and is preempted;
//   H is erased and re-created until its new slot H' lies below L;
//   commit B on {H', L} installs at H' and meets A's entry at L, so it helps A;
//   A's helper looks the key of H up and finds H', which holds B's entry.
// A helper that helped B there would meet A at L again, and so on: tens of thousands
// of nested helps, then a stack overflow. A's helper must find that H's record is not
// the one A read (another slot, another version) and decide that A failed; B succeeds.
// The final store is checked against a model of both outcomes.
#define VKV_TESTING_COMMIT_HOOKS  // before any vkv header: compiles the hook in
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/commit_hook.hpp"

namespace {

using StringStore = vkv::Store<std::string>;
using Tx = vkv::Transaction<std::string>;
using vkv_test::CommitParker;
using vkv_test::CommitPoint;
using vkv_test::slot_address;

// Keys of 16, 36 (a UUID) and 100+ characters; values that own heap memory.
std::string key_of_length(std::size_t length, char tag) {
  std::string key = "k" + std::string(1, tag) + "-";
  while (key.size() < length) key += "0123456789abcdef-";
  key.resize(length);
  return key;
}
std::string value_of(const std::string& who, int n) {
  return who + " wrote value " + std::to_string(n) + " with enough text to live on the heap";
}

// AddressSanitizer keeps freed memory in a quarantine (256 MiB by default) before it can
// be allocated again; pushing more than that through it hands the fillers' index
// entries back to the allocator, as a plain build does at once.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VKV_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VKV_TEST_ASAN 1
#endif
void flush_allocator_quarantine() {
#ifdef VKV_TEST_ASAN
  for (int i = 0; i < 40; ++i) {
    // A block of 8 MiB, freed at once: 320 MiB in all, never touched beyond its head.
    // Called, not new-expressions, which the compiler may elide.
    void* block = ::operator new (std::size_t{8} << 20);
    static_cast<volatile char*>(block)[0] = static_cast<char>(i);
    ::operator delete(block);
  }
#endif
}

struct Outcome {
  bool a_ok = false;
  vkv::Errc a_error{};
  std::size_t b_helps = 0;
  std::uint64_t b_depth = 0;
};

// Runs the interleaving of the header comment for keys of `length` characters, then
// checks the store against the model: B's writes are there, A's nowhere.
Outcome recreate_below_and_commit(std::size_t length) {
  StringStore store;
  // Freed index entries below the records' slots, for the re-create to land in: the
  // interleaving needs H' below L, and the allocator hands out freed memory first.
  std::vector<std::string> fillers;
  for (int i = 0; i < 64; ++i) fillers.push_back(key_of_length(length, 'f') + std::to_string(i));
  std::vector<vkv::Version> filler_versions;
  for (const auto& id : fillers) filler_versions.push_back(store.create(id, "filler").version);
  const std::string k1 = key_of_length(length, '1');
  const std::string k2 = key_of_length(length, '2');
  const auto r1 = store.create(k1, value_of("setup", 1));
  const auto r2 = store.create(k2, value_of("setup", 2));
  for (std::size_t i = 0; i < fillers.size(); ++i) store.erase(fillers[i], filler_versions[i]);
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);  // the fillers' entries are freed now
  flush_allocator_quarantine();

  const std::uintptr_t a1 = slot_address(store, k1);
  const std::uintptr_t a2 = slot_address(store, k2);
  EXPECT_NE(a1, 0u);
  EXPECT_NE(a2, 0u);
  // L is the key A installs first (lower slot address), H the other.
  const bool k1_low = a1 < a2;
  const std::string& low = k1_low ? k1 : k2;
  const std::string& high = k1_low ? k2 : k1;
  const std::uintptr_t low_address = k1_low ? a1 : a2;
  const vkv::Version low_version = (k1_low ? r1 : r2).version;
  vkv::Version high_version = (k1_low ? r2 : r1).version;

  // A: preempted right after its first install (at L).
  CommitParker<std::string> parker(CommitPoint::installed, 0);
  Outcome outcome;
  std::thread a_thread([&] {
    parker.arm();
    Tx a;
    a.update(k1, r1.version, value_of("A", 1)).update(k2, r2.version, value_of("A", 2));
    auto result = store.try_commit(a);
    outcome.a_ok = result.ok();
    if (!result.ok()) outcome.a_error = result.error();
    CommitParker<std::string>::disarm();
  });
  parker.wait_parked();

  // H is erased and re-created until its new slot lies below L (bounded).
  std::uintptr_t high_address = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    store.erase(high, high_version);
    high_version = store.create(high, value_of("re-create", attempt)).version;
    high_address = slot_address(store, high);
    if (high_address < low_address) break;
  }
  EXPECT_LT(high_address, low_address) << "could not place the re-created slot below L";

  // B on {H', L}: installs at H', then meets A's entry at L.
  Tx b;
  b.update(high, high_version, value_of("B", 1)).update(low, low_version, value_of("B", 2));
  const std::uint64_t helps_before = vkv::detail::tx_probe.helps;
  const auto b_result = store.try_commit(b);
  outcome.b_helps = vkv::detail::tx_probe.helps - helps_before;
  outcome.b_depth = vkv::detail::tx_probe.deepest;
  EXPECT_TRUE(b_result.ok());

  parker.release();
  a_thread.join();

  // The model: exactly B's two writes happened, on top of the setup and re-creates.
  const auto low_now = store.find(low);
  const auto high_now = store.find(high);
  EXPECT_TRUE(low_now && high_now);
  if (low_now && high_now) {
    EXPECT_EQ(low_now->value, value_of("B", 2));
    EXPECT_EQ(low_now->revision, 2u);
    EXPECT_EQ(high_now->value, value_of("B", 1));
    EXPECT_EQ(high_now->revision, 2u);  // re-created (1), then B (2)
    if (b_result.ok()) {
      EXPECT_EQ(low_now->version, b_result.value()[1].version);
      EXPECT_EQ(high_now->version, b_result.value()[0].version);
    }
  }
  EXPECT_EQ(store.size(), 2u);
  return outcome;
}

TEST(CommitHelping, ARecreatedKeyBelowTheOwnersSlotEndsHelping) {
  for (std::size_t length : {std::size_t{16}, std::size_t{36}, std::size_t{120}}) {
    SCOPED_TRACE("key length " + std::to_string(length));
    vkv::detail::tx_probe = {};
    const Outcome outcome = recreate_below_and_commit(length);
    // A read H and H is gone (erased, re-created): A fails on a real change, once.
    EXPECT_FALSE(outcome.a_ok);
    EXPECT_EQ(outcome.a_error, vkv::Errc::conflict);
    // B helped A once, and A's helper did not help B back.
    EXPECT_EQ(outcome.b_helps, 1u);
    EXPECT_EQ(outcome.b_depth, 1u);
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
  }
}

}  // namespace
