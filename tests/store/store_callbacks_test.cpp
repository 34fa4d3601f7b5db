// Contract tests of the Store's user callbacks (include/vkv/store.hpp): the transform overload
// of update_with_version, patch's mutate, StoreOptions::on_conflict and for_each's
// visit. Each runs outside any internal lock, so each may call back into the store;
// a lock held around them would deadlock these tests (ctest's timeout then fails them).
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using namespace vkv_contract;  // tests/support/contract.hpp

struct CallbackError : std::runtime_error {
  CallbackError() : std::runtime_error("callback failed") {}
};

// ---------------------------------------------------------------- transform

TEST(StoreTransformTest, ReturnsWhatTransformReturnsOfTheCommittedRecord) {
  CustomerStore store(customer_options());
  auto v1 = store.create("a", Customer{"Ada", 1});
  std::string out = store.update_with_version(
      "a", v1.version, Customer{"Ada", 2}, {},
      [](const CustomerRecord& r) { return r.value.name + "@" + std::to_string(r.revision); });
  EXPECT_EQ(out, "Ada@2");
}

TEST(StoreTransformTest, ReturnTypeIsTheTransformsResult) {
  using Store = CustomerStore;
  auto to_int = [](CustomerRecord r) { return r.value.credit; };
  using R = decltype(std::declval<Store&>().update_with_version(
      std::string(), vkv::Version(), Customer(), vkv::WriteOptions(), to_int));
  static_assert(std::is_same_v<R, std::int64_t>);
  auto to_void = [](const CustomerRecord&) {};
  using V = decltype(std::declval<Store&>().update_with_version(
      std::string(), vkv::Version(), Customer(), vkv::WriteOptions(), to_void));
  static_assert(std::is_void_v<V>);

  CustomerStore store;
  auto v1 = store.create("a", Customer{"Ada", 1});
  int calls = 0;
  store.update_with_version("a", v1.version, Customer{"Ada", 2}, {},
                            [&](const CustomerRecord&) { ++calls; });
  EXPECT_EQ(calls, 1);
}

TEST(StoreTransformTest, RunsAfterTheCommitAndMayCallBackIntoTheStore) {
  CustomerStore store(customer_options());
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto final_record = store.update_with_version(
      "a", v1.version, Customer{"Ada", 2}, {}, [&](const CustomerRecord& committed) {
        // The commit is visible to a read from inside transform...
        auto seen = store.find("a");
        EXPECT_TRUE(seen.has_value());
        if (seen) {
          EXPECT_TRUE(same_record(*seen, committed));
        }
        // ...and a write from inside transform neither deadlocks nor conflicts.
        return store.update_with_version("a", committed.version, Customer{"Ada", 3});
      });
  EXPECT_EQ(final_record.revision, 3u);
  EXPECT_TRUE(same_record(*store.find("a"), final_record));
}

TEST(StoreTransformTest, ThrowingTransformLeavesTheWriteCommitted) {
  CustomerStore store(customer_options());
  auto v1 = store.create("a", Customer{"Ada", 1});
  vkv::Version committed_version;
  EXPECT_THROW(store.update_with_version("a", v1.version, Customer{"Ada", 2}, {},
                                         [&](const CustomerRecord& r) -> int {
                                           committed_version = r.version;
                                           throw CallbackError();
                                         }),
               CallbackError);
  auto now = store.find("a");
  ASSERT_TRUE(now);
  EXPECT_EQ(now->value, (Customer{"Ada", 2}));
  EXPECT_EQ(now->revision, 2u);
  EXPECT_EQ(now->version, committed_version);
}

TEST(StoreTransformTest, MayReturnAFuture) {
  CustomerStore store;
  auto v1 = store.create("a", Customer{"Ada", 1});
  std::future<std::string> fut =
      store.update_with_version("a", v1.version, Customer{"Ada", 2}, {}, [](CustomerRecord r) {
        return std::async(std::launch::deferred, [r = std::move(r)] {
          return r.value.name + ":" + std::to_string(r.value.credit);
        });
      });
  ASSERT_TRUE(fut.valid());
  EXPECT_EQ(fut.get(), "Ada:2");

  // An asynchronous continuation too; it runs on another thread after the commit.
  auto v2 = *store.find("a");
  auto fut2 = store.update_with_version(
      "a", v2.version, Customer{"Ada", 3}, {}, [&store](CustomerRecord r) {
        return std::async(std::launch::async, [&store, r] { return store.find(r.id)->revision; });
      });
  EXPECT_EQ(fut2.get(), 3u);
}

TEST(StoreTransformTest, NotCalledWhenTheWriteFails) {
  CustomerStore store(customer_options());
  auto v1 = store.create("a", Customer{"Ada", 1});
  store.update_with_version("a", v1.version, Customer{"Ada", 2});
  int calls = 0;
  auto transform = [&](const CustomerRecord&) { return ++calls; };
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("a", v1.version, Customer{}, {}, transform),
                 vkv::OptimisticLockError);
    EXPECT_THROW(store.update_with_version("b", v1.version, Customer{}, {}, transform),
                 vkv::EntityNotFoundError);
  }));
  EXPECT_EQ(calls, 0);
}

TEST(StoreTransformTest, HonoursIncludeSoftDeleted) {
  CustomerStore store;
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.soft_delete("a", v1.version);
  auto id = [](const CustomerRecord& r) { return r; };
  EXPECT_THROW(store.update_with_version("a", v2.version, Customer{"Ada", 2}, {}, id),
               vkv::EntityNotFoundError);
  auto v3 = store.update_with_version("a", v2.version, Customer{"Ada", 2}, kIncludeDeleted, id);
  EXPECT_TRUE(v3.deleted);
  EXPECT_EQ(v3.revision, 3u);
}

// ---------------------------------------------------------------- mutate

TEST(StorePatchCallbackTest, MutateMayReadTheStore) {
  CustomerStore store;
  store.create("other", Customer{"Other", 40});
  auto v1 = store.create("a", Customer{"Ada", 2});
  auto v2 = store.patch_with_version(
      "a", v1.version, [&](Customer& c) { c.credit += store.find("other")->value.credit; });
  EXPECT_EQ(v2.value.credit, 42);
}

TEST(StorePatchCallbackTest, WriteFromInsideMutateWinsAndThePatchConflicts) {
  // mutate runs outside any lock, so another write of the same record can land between
  // the version check and the compare-and-swap; the patch must then fail, not overwrite.
  CustomerStore store(customer_options());
  auto v1 = store.create("a", Customer{"Ada", 1});
  CustomerRecord inner{};
  EXPECT_THROW(store.patch_with_version(
                   "a", v1.version,
                   [&](Customer& c) {
                     inner = store.update_with_version("a", v1.version, Customer{"Inner", 7});
                     c.credit = 1000;
                   }),
               vkv::OptimisticLockError);
  EXPECT_TRUE(same_record(*store.find("a"), inner));
  EXPECT_EQ(inner.value, (Customer{"Inner", 7}));
  EXPECT_EQ(inner.revision, 2u);
}

// ---------------------------------------------------------------- on_conflict

struct ConflictLog {
  struct Entry {
    std::string entity_type;
    std::string entity_id;
    vkv::Version expected;
    vkv::Version actual;
    std::thread::id thread;
  };
  std::vector<Entry> entries;
};

vkv::StoreOptions logging_options(ConflictLog& log) {
  auto options = customer_options();
  options.on_conflict = [&log](const vkv::ConflictEvent& e) {
    log.entries.push_back({std::string(e.entity_type), e.entity_id, e.expected, e.actual,
                           std::this_thread::get_id()});
  };
  return options;
}

TEST(StoreOnConflictTest, CalledSynchronouslyWithTheEventBeforeTheCallReturns) {
  ConflictLog log;
  CustomerStore store(logging_options(log));
  auto v1 = store.create("cust-123", Customer{"Ada", 1});
  auto v2 = store.update_with_version("cust-123", v1.version, Customer{"Ada", 2});
  EXPECT_TRUE(log.entries.empty()) << "no conflict yet";

  try {
    store.update_with_version("cust-123", v1.version, Customer{"Ada", 3});
    FAIL() << "expected a conflict";
  } catch (const vkv::OptimisticLockError&) {
    // Synchronous: by the time the exception reaches us the event has been delivered.
    ASSERT_EQ(log.entries.size(), 1u);
  }
  const auto& e = log.entries.at(0);
  EXPECT_EQ(e.entity_type, "Customer");
  EXPECT_EQ(e.entity_id, "cust-123");
  EXPECT_EQ(e.expected, v1.version);
  EXPECT_EQ(e.actual, v2.version) << "actual is the version that won";
  EXPECT_EQ(e.thread, std::this_thread::get_id());
}

TEST(StoreOnConflictTest, CalledForEveryKindOfVersionCheckAndForTryTwins) {
  ConflictLog log;
  CustomerStore store(logging_options(log));
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2});

  EXPECT_THROW(store.patch_with_version("a", v1.version, [](Customer&) {}),
               vkv::OptimisticLockError);
  EXPECT_THROW(store.soft_delete("a", v1.version), vkv::OptimisticLockError);
  EXPECT_THROW(store.erase("a", v1.version), vkv::OptimisticLockError);
  EXPECT_THROW(store.update_with_version("a", v1.version, Customer{}, {},
                                         [](const CustomerRecord&) { return 0; }),
               vkv::OptimisticLockError);
  EXPECT_EQ(store.try_update_with_version("a", v1.version, Customer{}).error(),
            vkv::Errc::conflict);
  EXPECT_EQ(store.try_patch_with_version("a", v1.version, [](Customer&) {}).error(),
            vkv::Errc::conflict);
  EXPECT_EQ(store.try_soft_delete("a", v1.version).error(), vkv::Errc::conflict);
  EXPECT_EQ(store.try_erase("a", v1.version).error(), vkv::Errc::conflict);
  auto v3 = store.soft_delete("a", v2.version);
  EXPECT_THROW(store.restore("a", v2.version), vkv::OptimisticLockError);
  EXPECT_EQ(store.try_restore("a", v2.version).error(), vkv::Errc::conflict);

  ASSERT_EQ(log.entries.size(), 10u);
  for (std::size_t i = 0; i < log.entries.size(); ++i) {
    const auto& e = log.entries[i];
    EXPECT_EQ(e.entity_id, "a");
    bool after_delete = i >= 8;
    EXPECT_EQ(e.expected, after_delete ? v2.version : v1.version) << "event #" << i;
    EXPECT_EQ(e.actual, after_delete ? v3.version : v2.version) << "event #" << i;
  }
}

TEST(StoreOnConflictTest, NotCalledForNotFoundOrDuplicate) {
  ConflictLog log;
  CustomerStore store(logging_options(log));
  auto v1 = store.create("a", Customer{"Ada", 1});
  EXPECT_THROW(store.create("a", Customer{}), vkv::DuplicateKeyError);
  EXPECT_THROW(store.update_with_version("b", v1.version, Customer{}), vkv::EntityNotFoundError);
  EXPECT_THROW(store.restore("a", v1.version), vkv::EntityNotFoundError);
  EXPECT_TRUE(log.entries.empty());
}

TEST(StoreOnConflictTest, MayCallBackIntoTheStore) {
  CustomerStore* self = nullptr;
  std::vector<CustomerRecord> seen_current;
  auto options = customer_options();
  options.on_conflict = [&](const vkv::ConflictEvent& e) {
    auto now = self->find(e.entity_id);
    if (now) seen_current.push_back(*now);
    // A write of another record from inside the callback.
    auto log = self->find("log");
    self->update_with_version("log", log->version, Customer{"log", log->value.credit + 1});
  };
  CustomerStore store(options);
  self = &store;
  store.create("log", Customer{"log", 0});
  auto v1 = store.create("a", Customer{"Ada", 1});
  auto v2 = store.update_with_version("a", v1.version, Customer{"Ada", 2});

  EXPECT_THROW(store.update_with_version("a", v1.version, Customer{}), vkv::OptimisticLockError);
  EXPECT_FALSE(store.try_soft_delete("a", v1.version).ok());
  ASSERT_EQ(seen_current.size(), 2u);
  EXPECT_TRUE(same_record(seen_current[0], v2));
  EXPECT_EQ(store.find("log")->value.credit, 2);
  EXPECT_TRUE(same_record(*store.find("a"), v2));
}

TEST(StoreOnConflictTest, AThrowingCallbackPropagatesAndNothingChanges) {
  auto options = customer_options();
  options.on_conflict = [](const vkv::ConflictEvent&) { throw CallbackError(); };
  CustomerStore store(options);
  auto v1 = store.create("a", Customer{"Ada", 1});
  store.update_with_version("a", v1.version, Customer{"Ada", 2});

  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.update_with_version("a", v1.version, Customer{}), CallbackError);
    EXPECT_THROW(store.patch_with_version("a", v1.version, [](Customer&) {}), CallbackError);
    EXPECT_THROW(store.erase("a", v1.version), CallbackError);
    // try_* report outcomes, but what a user callback throws still propagates.
    EXPECT_THROW((void)store.try_update_with_version("a", v1.version, Customer{}), CallbackError);
    EXPECT_THROW((void)store.try_erase("a", v1.version), CallbackError);
  }));
}

// ---------------------------------------------------------------- visit

TEST(StoreForEachCallbackTest, VisitMayUpdateTheVisitedRecord) {
  CustomerStore store;
  constexpr int kRecords = 64;
  for (int i = 0; i < kRecords; ++i) store.create("k" + std::to_string(i), Customer{"c", i});

  std::map<std::string, int> visits;
  store.for_each([&](const CustomerRecord& r) {
    ++visits[r.id];
    auto updated = store.update_with_version(r.id, r.version, Customer{"visited", r.value.credit});
    EXPECT_EQ(updated.revision, r.revision + 1);
  });
  ASSERT_EQ(visits.size(), static_cast<std::size_t>(kRecords));
  for (const auto& [id, n] : visits) EXPECT_EQ(n, 1) << id << " visited " << n << " times";
  for (int i = 0; i < kRecords; ++i) {
    auto r = store.find("k" + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->value, (Customer{"visited", i}));
    EXPECT_EQ(r->revision, 2u);
  }
}

TEST(StoreForEachCallbackTest, VisitMayCreateAndEraseWithoutBreakingTheTraversal) {
  CustomerStore store;
  constexpr int kRecords = 64;
  for (int i = 0; i < kRecords; ++i) store.create("k" + std::to_string(i), Customer{"c", i});

  std::map<std::string, int> visits;
  int created = 0;
  store.for_each([&](const CustomerRecord& r) {
    ++visits[r.id];
    if (r.id.rfind("new", 0) == 0) return;
    // Grow the index while it is being traversed (may force the table to grow).
    for (int j = 0; j < 4; ++j) {
      store.create("new" + std::to_string(created++), Customer{"new", j});
    }
    // And erase the visited record itself.
    store.erase(r.id, r.version);
  });
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(visits["k" + std::to_string(i)], 1) << "k" << i;
    EXPECT_FALSE(store.find("k" + std::to_string(i)).has_value());
  }
  for (const auto& [id, n] : visits) EXPECT_LE(n, 1) << id;
  EXPECT_EQ(created, kRecords * 4);
  EXPECT_EQ(store.size(), static_cast<std::size_t>(created));
}

TEST(StoreForEachCallbackTest, AThrowingVisitPropagatesAndStopsTheTraversal) {
  CustomerStore store;
  for (int i = 0; i < 8; ++i) store.create("k" + std::to_string(i), Customer{"c", i});
  int visits = 0;
  EXPECT_TRUE(leaves_no_trace(store, [&] {
    EXPECT_THROW(store.for_each([&](const CustomerRecord&) {
      ++visits;
      throw CallbackError();
    }),
                 CallbackError);
  }));
  EXPECT_EQ(visits, 1);
}

}  // namespace
