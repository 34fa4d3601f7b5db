// Faults and bad input: throwing user callbacks, malformed versions, huge keys and
// values, threads that exit right after using the store, and try_* calls that must
// report rather than throw. "Failure leaves no trace" is checked by comparing the
// whole record (and the counters) before and after.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

namespace vkv_test {
namespace {

struct Boom : std::runtime_error {
  Boom() : std::runtime_error("boom") {}
};

using StrStore = vkv::Store<std::string>;
using Rec = StrStore::record_type;

void expect_same(const std::optional<Rec>& a, const std::optional<Rec>& b) {
  ASSERT_EQ(a.has_value(), b.has_value());
  if (!a) return;
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(a->value, b->value);
  EXPECT_EQ(a->version, b->version);
  EXPECT_EQ(a->revision, b->revision);
  EXPECT_EQ(a->deleted, b->deleted);
}

std::optional<Rec> snapshot(const StrStore& store, const std::string& id) {
  return store.find(id, vkv::ReadOptions{true});
}

// ---------------------------------------------------------------------------------
// Throwing callbacks.

TEST(FaultCallbacks, ThrowingMutateChangesNothing) {
  StrStore store;
  const Rec created = store.create("a", "v1");
  const auto throw_boom = [](std::string&) { throw Boom(); };
  const vkv::StoreStats before_stats = store.stats();

  EXPECT_THROW(store.patch_with_version("a", created.version, throw_boom), Boom);
  expect_same(snapshot(store, "a"), created);
  EXPECT_THROW(store.try_patch_with_version("a", created.version, throw_boom), Boom);
  expect_same(snapshot(store, "a"), created);
  EXPECT_THROW(store.update_with_retry("a", throw_boom), Boom);
  expect_same(snapshot(store, "a"), created);

  // A mutate that half-changes its copy and then throws: the copy is dropped.
  EXPECT_THROW(store.patch_with_version("a", created.version,
                                        [](std::string& v) {
                                          v = "torn";
                                          throw Boom();
                                        }),
               Boom);
  expect_same(snapshot(store, "a"), created);
  EXPECT_EQ(store.stats().writes, before_stats.writes);
}

TEST(FaultCallbacks, MutateThrowingOnARetryChangesNothingMore) {
  StrStore store;
  const Rec created = store.create("a", "0");
  int calls = 0;
  std::optional<Rec> inner_write;
  // First run: a "concurrent" writer (the callback itself, which may call back into the
  // store) moves the record on, so the commit conflicts; the retry's run throws.
  const auto mutate = [&](std::string& v) {
    if (++calls == 1) {
      inner_write = store.update_with_version("a", created.version, "from inside");
      v += "+1";
      return;
    }
    throw Boom();
  };
  vkv::RetryPolicy policy;
  policy.max_retries = 5;
  EXPECT_THROW(store.update_with_retry("a", mutate, policy), Boom);
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(inner_write.has_value());
  expect_same(snapshot(store, "a"), inner_write);
}

TEST(FaultCallbacks, ThrowingTransformLeavesTheWriteCommitted) {
  StrStore store;
  const Rec created = store.create("a", "v1");
  EXPECT_THROW(store.update_with_version("a", created.version, "v2", {},
                                         [](const Rec&) -> int { throw Boom(); }),
               Boom);
  const auto now = snapshot(store, "a");
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(now->value, "v2");
  EXPECT_EQ(now->revision, 2u);
  EXPECT_NE(now->version, created.version);
  // The transform's result type is its own business.
  const std::size_t length = store.update_with_version("a", now->version, "v333", {},
                                                       [](const Rec& r) { return r.value.size(); });
  EXPECT_EQ(length, 4u);
}

TEST(FaultCallbacks, ThrowingOnConflictPropagatesAndChangesNothing) {
  int events = 0;
  vkv::ConflictEvent last;
  vkv::StoreOptions options;
  options.entity_type = "Widget";
  StrStore* self = nullptr;
  options.on_conflict = [&](const vkv::ConflictEvent& e) {
    ++events;
    last = e;
    // Runs outside any lock: calling back into the store must not deadlock.
    EXPECT_TRUE(self->find(e.entity_id).has_value());
    throw Boom();
  };
  StrStore store(options);
  self = &store;
  const Rec v1 = store.create("w", "one");
  const Rec v2 = store.update_with_version("w", v1.version, "two");
  const vkv::StoreStats before = store.stats();

  EXPECT_THROW(store.update_with_version("w", v1.version, "stale"), Boom);
  EXPECT_THROW(store.try_update_with_version("w", v1.version, "stale"), Boom);
  EXPECT_THROW(store.try_patch_with_version("w", v1.version, [](std::string&) {}), Boom);
  EXPECT_THROW(store.try_soft_delete("w", v1.version), Boom);
  EXPECT_THROW(store.try_erase("w", v1.version), Boom);
  EXPECT_EQ(events, 5);
  EXPECT_EQ(last.entity_type, "Widget");
  EXPECT_EQ(last.entity_id, "w");
  EXPECT_EQ(last.expected, v1.version);
  EXPECT_EQ(last.actual, v2.version);
  expect_same(snapshot(store, "w"), v2);
  EXPECT_EQ(store.stats().writes, before.writes);

  // Not-found is no conflict: no event, and the try_ call reports it.
  const auto missing = store.try_update_with_version("nope", v1.version, "x");
  EXPECT_EQ(missing.error(), vkv::Errc::not_found);
  EXPECT_EQ(events, 5);
}

// ---------------------------------------------------------------------------------
// try_* report outcomes; they do not throw them.

TEST(FaultTryCalls, EveryRefusalIsAResultNotAnException) {
  StrStore store;
  const Rec live = store.create("live", "x");
  const Rec gone0 = store.create("gone", "y");
  const Rec gone = store.soft_delete("gone", gone0.version);
  const vkv::Version stale = live.version;
  const Rec live2 = store.update_with_version("live", live.version, "x2");
  const vkv::Version nil;
  const auto noop = [](std::string&) {};
  vkv::Transaction<std::string> bad_tx;
  bad_tx.check("live", stale).update("gone", gone.version, "z");

  struct Case {
    const char* what;
    std::function<vkv::Errc()> call;
    vkv::Errc expect;
  };
  const std::vector<Case> cases = {
      {"create duplicate", [&] { return store.try_create("live", "d").error(); },
       vkv::Errc::duplicate_key},
      {"create over soft-deleted", [&] { return store.try_create("gone", "d").error(); },
       vkv::Errc::duplicate_key},
      {"update absent", [&] { return store.try_update_with_version("no", nil, "v").error(); },
       vkv::Errc::not_found},
      {"update stale", [&] { return store.try_update_with_version("live", stale, "v").error(); },
       vkv::Errc::conflict},
      {"update soft-deleted",
       [&] { return store.try_update_with_version("gone", gone.version, "v").error(); },
       vkv::Errc::not_found},
      {"patch absent", [&] { return store.try_patch_with_version("no", nil, noop).error(); },
       vkv::Errc::not_found},
      {"patch stale", [&] { return store.try_patch_with_version("live", stale, noop).error(); },
       vkv::Errc::conflict},
      {"soft_delete twice", [&] { return store.try_soft_delete("gone", gone.version).error(); },
       vkv::Errc::not_found},
      {"soft_delete stale", [&] { return store.try_soft_delete("live", stale).error(); },
       vkv::Errc::conflict},
      {"restore live", [&] { return store.try_restore("live", live2.version).error(); },
       vkv::Errc::not_found},
      {"restore stale", [&] { return store.try_restore("gone", gone0.version).error(); },
       vkv::Errc::conflict},
      {"erase absent", [&] { return store.try_erase("no", nil).error(); }, vkv::Errc::not_found},
      {"erase stale", [&] { return store.try_erase("live", stale).error(); }, vkv::Errc::conflict},
      {"commit stale check", [&] { return store.try_commit(bad_tx).error(); }, vkv::Errc::conflict},
  };
  const auto before_live = snapshot(store, "live");
  const auto before_gone = snapshot(store, "gone");
  for (const Case& c : cases) {
    vkv::Errc got{};
    EXPECT_NO_THROW(got = c.call()) << c.what;
    EXPECT_EQ(got, c.expect) << c.what;
  }
  expect_same(snapshot(store, "live"), before_live);
  expect_same(snapshot(store, "gone"), before_gone);
  EXPECT_FALSE(snapshot(store, "no").has_value());

  // A conflict carries the current record, so a retry needs no extra read.
  const auto conflict = store.try_update_with_version("live", stale, "v");
  ASSERT_TRUE(conflict.current().has_value());
  expect_same(conflict.current(), before_live);
}

// ---------------------------------------------------------------------------------
// Malformed versions.

TEST(FaultVersionParse, MalformedInputIsRejected) {
  const std::string good = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  ASSERT_TRUE(vkv::Version::parse(good).has_value());
  const std::vector<std::string> bad = {
      "",
      " ",
      "7c9e6679-7425-40de-944b-e07fc1f90ae",     // 35
      "7c9e6679-7425-40de-944b-e07fc1f90ae77",   // 37
      "7c9e6679742540de944be07fc1f90ae7",        // 32 bare hex digits
      "{7c9e6679-7425-40de-944b-e07fc1f90ae7}",  // braces
      "urn:uuid:7c9e6679-7425-40de-944b-e07fc1f90ae7",
      " 7c9e6679-7425-40de-944b-e07fc1f90ae7",
      "7c9e6679-7425-40de-944b-e07fc1f90ae7 ",
      "7c9e6679-7425-40de-944b-e07fc1f90ae7\n",
      "7c9e6679_7425_40de_944b_e07fc1f90ae7",
      "7c9e66797-425-40de-944b-e07fc1f90ae7",  // hyphen one place late
      "7c9e667-97425-40de-944b-e07fc1f90ae7",  // hyphen one place early
      "7c9e6679-7425-40de-944b-e07fc1f90aeg",  // g is not hex
      "7c9e6679-7425-40de-944b-e07fc1f90ae\xff",
      "+c9e6679-7425-40de-944b-e07fc1f90ae7",
      "0x9e6679-7425-40de-944b-e07fc1f90ae7",
      "------------------------------------",
      std::string("7c9e6679-7425-40de-944b-e07fc1f90a\0e7", 36),  // embedded NUL
      std::string(1 << 20, 'a'),                                  // very long
  };
  for (const std::string& text : bad) {
    EXPECT_EQ(vkv::Version::parse(text), std::nullopt) << '"' << text.substr(0, 60) << '"';
  }

  // Every single-character corruption of a valid version is rejected, except hex
  // digit for hex digit (a different, valid version).
  std::mt19937 rng(7);
  const std::string replacements("g-G {}:zx\t\0/", 12);
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    for (char c : replacements) {
      std::string text = good;
      text[pos] = c;
      if (text == good) continue;
      EXPECT_EQ(vkv::Version::parse(text), std::nullopt) << pos << ": " << text;
    }
    // Deleting or inserting a character shifts every hyphen.
    std::string shorter = good;
    shorter.erase(pos, 1);
    EXPECT_EQ(vkv::Version::parse(shorter), std::nullopt) << shorter;
    std::string longer = good;
    longer.insert(pos, 1, "0123456789abcdef"[rng() % 16]);
    EXPECT_EQ(vkv::Version::parse(longer), std::nullopt) << longer;
  }

  // Both cases parse to the same version, which prints in lower case.
  std::string upper = good;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  ASSERT_TRUE(vkv::Version::parse(upper).has_value());
  EXPECT_EQ(*vkv::Version::parse(upper), *vkv::Version::parse(good));
  EXPECT_EQ(vkv::Version::parse(upper)->to_string(), good);
}

TEST(FaultVersionParse, ParsedUnknownVersionIsJustAConflict) {
  StrStore store;
  const Rec r = store.create("a", "v");
  const auto foreign = vkv::Version::parse("00000000-0000-4000-8000-000000000000");
  ASSERT_TRUE(foreign.has_value());
  EXPECT_THROW(store.update_with_version("a", *foreign, "w"), vkv::OptimisticLockError);
  EXPECT_THROW(store.update_with_version("a", vkv::Version{}, "w"), vkv::OptimisticLockError);
  // A version round-tripped through text is the version.
  const auto again = vkv::Version::parse(r.version.to_string());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(store.update_with_version("a", *again, "w").revision, 2u);
}

// ---------------------------------------------------------------------------------
// Huge keys and values.

TEST(FaultHuge, OneMebibyteKeySixteenMebibyteValue) {
  StrStore store;
  std::string key(1 << 20, 'k');
  key.back() = '!';
  std::string value(16 << 20, 'v');
  value[12345] = 'x';
  const Rec created = store.create(key, value);
  EXPECT_EQ(created.id, key);
  EXPECT_EQ(created.revision, 1u);

  std::string near_key = key;
  near_key.back() = '?';  // differs in the last byte only
  EXPECT_FALSE(store.find(near_key).has_value());

  const auto found = store.find(key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->value.size(), value.size());
  EXPECT_TRUE(found->value == value);

  std::string bigger(16 << 20, 'w');
  const Rec updated = store.update_with_version(key, created.version, bigger);
  EXPECT_EQ(updated.revision, 2u);
  EXPECT_THROW(store.update_with_version(key, created.version, "stale"), vkv::OptimisticLockError);
  const Rec patched = store.patch_with_version(key, updated.version,
                                               [](std::string& v) { v.append(1 << 20, 'p'); });
  EXPECT_EQ(patched.value.size(), (16u << 20) + (1u << 20));
  store.erase(key, patched.version);
  EXPECT_FALSE(store.find(key, vkv::ReadOptions{true}).has_value());
  EXPECT_EQ(store.size(), 0u);
}

// ---------------------------------------------------------------------------------
// Threads that exit right after a few operations.

TEST(FaultThreads, ShortLivedThreadsLeaveNothingBehind) {
  ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
  ASSERT_EQ(Counted::live(), 0);
  const int waves = static_cast<int>(scaled(50, 4));
  const int per_wave = 4;
  std::int64_t expected_erased = 0;
  {
    vkv::Store<Counted> store;
    store.create("shared", Counted(0, "counter"));
    vkv::RetryPolicy patient;
    patient.max_retries = 1'000'000;  // the invariant is the count, not the backoff
    for (int wave = 0; wave < waves; ++wave) {
      std::vector<std::thread> threads;
      for (int t = 0; t < per_wave; ++t) {
        const int n = wave * per_wave + t;
        threads.emplace_back([&store, &patient, n] {
          const std::string mine = "t" + std::to_string(n);
          auto r = store.create(mine, Counted(n, std::string(32, 'x')));
          r = store.update_with_version(mine, r.version, Counted(n + 1, std::string(32, 'y')));
          store.update_with_retry(
              "shared", [](Counted& c) { c.value += 1; }, patient);
          if (n % 2 == 0) store.erase(mine, r.version);
        });
      }
      for (std::thread& th : threads) th.join();
      expected_erased += (per_wave + 1) / 2;
    }
    const int total = waves * per_wave;
    const auto shared = store.find("shared");
    ASSERT_TRUE(shared.has_value());
    EXPECT_EQ(shared->value.value, total);
    EXPECT_EQ(shared->revision, static_cast<std::uint64_t>(total) + 1);
    for (int n = 0; n < total; ++n) {
      const auto r = store.find("t" + std::to_string(n));
      ASSERT_EQ(r.has_value(), n % 2 != 0) << n;
      if (r) {
        EXPECT_EQ(r->value.value, n + 1);
        EXPECT_EQ(r->revision, 2u);
      }
    }
    EXPECT_EQ(store.size(), static_cast<std::size_t>(1 + total - expected_erased));
  }
  EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
  EXPECT_EQ(Counted::live(), 0);
}

}  // namespace
}  // namespace vkv_test
