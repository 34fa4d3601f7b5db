// std::bad_alloc at every allocation of every write: the write must either succeed or
// leave the store exactly as it was, and nothing may leak.
//
// This binary replaces the global operator new/delete with a counting version that,
// while armed on the calling thread, throws on the Nth allocation. Each write is run
// with N = 1, 2, ... until it succeeds; after each failure the store is compared with
// a snapshot taken before.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

// This TU owns the binary's replacement operator new/delete.
#include "support/failing_allocator.hpp"

using FailNth = vkv_test::injected::FailNthAllocation;

namespace vkv_test {
namespace {

using CStore = vkv::Store<Counted>;
using Rec = CStore::record_type;

// Long enough to defeat the small-string optimisation: copying a value allocates.
Counted val(std::int64_t v) { return Counted(v, std::string(48, static_cast<char>('a' + v % 26))); }

struct Snapshot {
  std::vector<std::optional<Rec>> records;
  std::size_t size = 0;
};

class FaultAlloc : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(vkv::detail::epoch::drain(), 0u);
    ASSERT_EQ(Counted::live(), 0);
    populate();
  }

  // key-0 .. key-6 live, key-7 soft-deleted, "absent" never created.
  void populate(vkv::StoreOptions options = {}) {
    store_.emplace(std::move(options));
    ids_.clear();
    for (int i = 0; i < 8; ++i) {
      ids_.push_back("key-" + std::to_string(i));
      store_->create(ids_.back(), val(i));
    }
    ids_.push_back("absent");
    store_->soft_delete("key-7", store_->find("key-7")->version);
  }

  void TearDown() override {
    store_.reset();
    EXPECT_EQ(vkv::detail::epoch::drain(), 0u);
    EXPECT_EQ(Counted::live(), 0) << "instances leaked";
  }

  Snapshot snapshot() const {
    Snapshot s;
    for (const std::string& id : ids_)
      s.records.push_back(store_->find(id, vkv::ReadOptions{true}));
    s.size = store_->size();
    return s;
  }

  static void expect_same(const Snapshot& a, const Snapshot& b, std::int64_t n) {
    ASSERT_EQ(a.records.size(), b.records.size());
    EXPECT_EQ(a.size, b.size) << "after failing allocation " << n;
    for (std::size_t i = 0; i < a.records.size(); ++i) {
      const auto& x = a.records[i];
      const auto& y = b.records[i];
      ASSERT_EQ(x.has_value(), y.has_value()) << "record " << i << ", allocation " << n;
      if (!x) continue;
      EXPECT_EQ(x->value, y->value) << "record " << i << ", allocation " << n;
      EXPECT_EQ(x->version, y->version) << "record " << i << ", allocation " << n;
      EXPECT_EQ(x->revision, y->revision) << "record " << i << ", allocation " << n;
      EXPECT_EQ(x->deleted, y->deleted) << "record " << i << ", allocation " << n;
    }
  }

  // Runs `op` with allocation 1, 2, ... failing until it completes; checks the store is
  // unchanged after every bad_alloc and that each bad_alloc was the injected one, and,
  // unless the op may allocate nothing at all (an erase on an attached thread), that
  // the injected failure fired at least once. Returns how many runs failed.
  template <class Op>
  std::int64_t fail_each_allocation(Op&& op, bool allocates = true) {
    std::int64_t failures = 0;
    for (std::int64_t n = 1; n < 10'000; ++n) {
      const Snapshot before = snapshot();
      bool threw = false;
      {
        FailNth injector(n);
        try {
          op();
        } catch (const std::bad_alloc&) {
          threw = true;
        }
      }
      if (!threw) {
        // Completed (a failure vkv handled itself, such as the index's segment
        // allocation after a linked insert, also ends here: the op cannot run twice).
        if (allocates) {
          EXPECT_GT(failures, 0) << "the injected failure never fired";
        }
        return failures;
      }
      EXPECT_TRUE(vkv_test::injected::fired)
          << "a bad_alloc the injector did not throw, at allocation " << n;
      ++failures;
      const Snapshot after = snapshot();
      expect_same(before, after, n);
      if (::testing::Test::HasFailure()) return failures;
    }
    ADD_FAILURE() << "never succeeded";
    return failures;
  }

  const Rec current(const std::string& id) const {
    return *store_->find(id, vkv::ReadOptions{true});
  }

  std::optional<CStore> store_;
  std::vector<std::string> ids_;
};

TEST_F(FaultAlloc, InjectorThrowsOnTheNthAllocationOnly) {
  FailNth injector(2);
  auto first = std::make_unique<int>(1);
  EXPECT_THROW((void)std::make_unique<int>(2), std::bad_alloc);
  auto third = std::make_unique<int>(3);  // only the Nth fails
  EXPECT_TRUE(vkv_test::injected::fired);
}

TEST_F(FaultAlloc, Create) {
  std::optional<Rec> made;
  const std::int64_t failures =
      fail_each_allocation([&] { made = store_->create("new", val(40)); });
  EXPECT_GT(failures, 0) << "a create that never allocates?";
  ASSERT_TRUE(made.has_value());
  EXPECT_EQ(made->revision, 1u);
  EXPECT_EQ(current("new").value, val(40));
}

TEST_F(FaultAlloc, CreateManyGrowsTheIndexUnderFailures) {
  // When a create makes the index grow, oneTBB's concurrent_hash_map::emplace() links
  // the element and only then allocates the next bucket segment; a bad_alloc there
  // escapes emplace() with the element inserted. The create has then happened and must
  // report success (ShardedIndex::insert_or_revive), keeping the node the index points
  // to (freeing it would be a use-after-free at the next find of that id).
  // Enough inserts to make the index grow (rehash) under injection too.
  for (int i = 0; i < 300; ++i) {
    const std::string id = "grow-" + std::to_string(i);
    ids_.push_back(id);  // so the snapshots cover it
    fail_each_allocation([&] { store_->create(id, val(i)); });
    ASSERT_FALSE(HasFailure()) << id;
    ASSERT_EQ(current(id).value, val(i));
  }
  EXPECT_EQ(store_->size(), 7u + 300u);
}

TEST_F(FaultAlloc, CreateDuplicateThrowsOnlyDuplicateOrBadAlloc) {
  std::int64_t duplicates = 0;
  fail_each_allocation([&] {
    try {
      store_->create("key-1", val(9));
    } catch (const vkv::DuplicateKeyError&) {
      ++duplicates;
    }
  });
  EXPECT_EQ(duplicates, 1);
  EXPECT_EQ(current("key-1").value, val(1));
}

TEST_F(FaultAlloc, UpdateAndTryUpdate) {
  const Rec before = current("key-0");
  EXPECT_GT(
      fail_each_allocation([&] { store_->update_with_version("key-0", before.version, val(100)); }),
      0);
  const Rec after = current("key-0");
  EXPECT_EQ(after.value, val(100));
  EXPECT_EQ(after.revision, before.revision + 1);

  std::optional<vkv::Result<Rec>> r;
  EXPECT_GT(fail_each_allocation(
                [&] { r = store_->try_update_with_version("key-0", after.version, val(101)); }),
            0);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(current("key-0").revision, before.revision + 2);

  // A conflicting try_ call under injection: reports conflict or throws bad_alloc.
  fail_each_allocation(
      [&] { r = store_->try_update_with_version("key-0", before.version, val(102)); });
  ASSERT_TRUE(r && !r->ok());
  EXPECT_EQ(r->error(), vkv::Errc::conflict);
}

TEST_F(FaultAlloc, PatchAndTryPatch) {
  const Rec before = current("key-2");
  fail_each_allocation([&] {
    store_->patch_with_version("key-2", before.version, [](Counted& c) { c.value += 10; });
  });
  EXPECT_EQ(current("key-2").value.value, 12);
  const Rec mid = current("key-2");
  fail_each_allocation([&] {
    (void)store_->try_patch_with_version("key-2", mid.version, [](Counted& c) {
      c.payload += std::string(100, 'z');  // the mutation itself allocates
    });
  });
  EXPECT_EQ(current("key-2").revision, before.revision + 2);
  EXPECT_EQ(current("key-2").value.payload.size(), 148u);
}

TEST_F(FaultAlloc, SoftDeleteRestoreErase) {
  const Rec r3 = current("key-3");
  fail_each_allocation([&] { store_->soft_delete("key-3", r3.version); });
  EXPECT_TRUE(current("key-3").deleted);
  const Rec d3 = current("key-3");
  fail_each_allocation([&] { store_->restore("key-3", d3.version); });
  EXPECT_FALSE(current("key-3").deleted);
  EXPECT_EQ(current("key-3").revision, r3.revision + 2);

  const Rec r4 = current("key-4");
  // On a thread already attached, an erase builds nothing: it may not allocate at all.
  fail_each_allocation([&] { store_->erase("key-4", r4.version); }, /*allocates=*/false);
  EXPECT_FALSE(store_->find("key-4", vkv::ReadOptions{true}).has_value());

  const Rec r7 = current("key-7");  // soft-deleted: purge it
  std::optional<vkv::Result<Rec>> erased;
  fail_each_allocation([&] { erased = store_->try_erase("key-7", r7.version); },
                       /*allocates=*/false);
  ASSERT_TRUE(erased && erased->ok());
  EXPECT_EQ(erased->value().value, val(7));
  EXPECT_EQ(store_->size(), 6u);

  // The erased id can be created again.
  fail_each_allocation([&] { store_->create("key-4", val(44)); });
  EXPECT_EQ(current("key-4").revision, 1u);
}

TEST_F(FaultAlloc, UpdateWithRetry) {
  const Rec before = current("key-5");
  fail_each_allocation(
      [&] { store_->update_with_retry("key-5", [](Counted& c) { c.value *= 100; }); });
  EXPECT_EQ(current("key-5").value.value, 500);
  EXPECT_EQ(current("key-5").revision, before.revision + 1);
}

TEST_F(FaultAlloc, CommitIsAllOrNothingUnderFailures) {
  const Rec a = current("key-0"), b = current("key-1"), c = current("key-2"), d = current("key-6");
  vkv::Transaction<Counted> tx;
  tx.check("key-0", a.version).update("key-1", b.version, val(111)).soft_delete("key-2", c.version);
  tx.erase("key-6", d.version);
  std::optional<std::vector<Rec>> written;
  EXPECT_GT(fail_each_allocation([&] { written = store_->commit(tx); }), 0);
  ASSERT_TRUE(written.has_value());
  ASSERT_EQ(written->size(), 4u);
  EXPECT_EQ(current("key-1").value, val(111));
  EXPECT_TRUE(current("key-2").deleted);
  EXPECT_FALSE(store_->find("key-6", vkv::ReadOptions{true}).has_value());

  // A failing transaction under injection: conflict or bad_alloc, never a change.
  vkv::Transaction<Counted> stale;
  stale.update("key-3", current("key-3").version, val(333)).check("key-0", b.version);
  std::optional<vkv::Result<std::vector<Rec>>> r;
  fail_each_allocation([&] { r = store_->try_commit(stale); });
  ASSERT_TRUE(r && !r->ok());
  EXPECT_EQ(r->error(), vkv::Errc::conflict);
  EXPECT_EQ(current("key-3").value, val(3));
}

TEST_F(FaultAlloc, UpdateManyUnderFailures) {
  // update_many applies its writes independently, so a bad_alloc part-way may leave
  // the earlier writes committed; each single write must still be all-or-nothing.
  // Every N starts again from a freshly populated store.
  std::optional<std::vector<vkv::Result<Rec>>> results;
  std::int64_t n = 1;
  for (; n < 10'000; ++n) {
    populate();
    const Rec a = current("key-0"), b = current("key-1");
    std::vector<CStore::VersionedWrite> writes;
    writes.push_back({"key-0", a.version, val(1000)});
    writes.push_back({"key-1", a.version, val(1001)});  // stale: conflict
    writes.push_back({"key-1", b.version, val(1002)});
    bool threw = false;
    {
      FailNth injector(n);
      try {
        results = store_->update_many(std::span<const CStore::VersionedWrite>(writes));
      } catch (const std::bad_alloc&) {
        threw = true;
      }
    }
    if (!threw) break;
    EXPECT_TRUE(vkv_test::injected::fired) << "a bad_alloc the injector did not throw";
    for (const Rec* old : {&a, &b}) {
      const Rec now = current(old->id);
      if (now.version == old->version) {
        EXPECT_EQ(now.value, old->value) << "allocation " << n;
        EXPECT_EQ(now.revision, old->revision) << "allocation " << n;
      } else {
        EXPECT_EQ(now.revision, old->revision + 1) << "allocation " << n;
        EXPECT_EQ(now.value, old == &a ? val(1000) : val(1002)) << "allocation " << n;
      }
    }
    if (HasFailure()) return;
  }
  ASSERT_TRUE(results.has_value());
  ASSERT_EQ(results->size(), 3u);
  EXPECT_TRUE((*results)[0].ok());
  EXPECT_EQ((*results)[1].error(), vkv::Errc::conflict);
  EXPECT_TRUE((*results)[2].ok());
  EXPECT_GT(n, 1);
  EXPECT_EQ(current("key-1").value, val(1002));
}

// The cache layer: put and find_or_create are all-or-nothing too; so is a
// create that replaces an expired record, and a create in a bounded store (its eviction
// happens only after the create succeeded).
TEST_F(FaultAlloc, PutCreatesReplacesAndRevivesUnderFailures) {
  std::optional<Rec> made;
  EXPECT_GT(fail_each_allocation([&] { made = store_->put("new", val(50)); }), 0);
  ASSERT_TRUE(made.has_value());
  EXPECT_EQ(made->revision, 1u);
  EXPECT_EQ(current("new").value, val(50));
  const Rec before = current("key-2");
  EXPECT_GT(fail_each_allocation([&] { made = store_->put("key-2", val(51)); }), 0);
  EXPECT_EQ(current("key-2").revision, before.revision + 1);
  EXPECT_EQ(current("key-2").value, val(51));
  // Over a soft-deleted record: live again.
  EXPECT_GT(fail_each_allocation([&] { made = store_->put("key-7", val(52)); }), 0);
  EXPECT_FALSE(current("key-7").deleted);
  EXPECT_EQ(store_->size(), 8u + 1u);
}

TEST_F(FaultAlloc, FindOrCreateUnderFailures) {
  std::optional<Rec> got;
  int made = 0;
  EXPECT_GT(fail_each_allocation([&] {
              got = store_->find_or_create("absent", [&] {
                ++made;
                return val(60);
              });
            }),
            0);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(current("absent").value, val(60));
  EXPECT_EQ(current("absent").version, got->version);
  const Rec existing = current("key-3");
  fail_each_allocation([&] { got = store_->find_or_create("key-3", [] { return val(61); }); });
  EXPECT_EQ(got->version, existing.version);
  EXPECT_EQ(current("key-3").value, val(3));
  EXPECT_GE(made, 1);
}

TEST_F(FaultAlloc, BoundedCreateEvictsOnlyAfterSucceeding) {
  vkv::StoreOptions options;
  options.max_records = 8;  // populate() fills it (key-7 soft-deleted counts)
  populate(std::move(options));
  EXPECT_GT(fail_each_allocation([&] { store_->create("absent", val(70)); }), 0);
  EXPECT_EQ(store_->stats().evictions, 1u);
  std::size_t present = 0;
  for (const std::string& id : ids_) present += store_->find(id, vkv::ReadOptions{true}) ? 1 : 0;
  EXPECT_EQ(present, 8u);
}

TEST_F(FaultAlloc, CreateOverAnExpiredRecordUnderFailures) {
  // "gone" is not in ids_, so the snapshots (finds) never meet it and remove it.
  const Rec gone =
      store_->create("gone", val(80), vkv::WriteOptions{.ttl = std::chrono::microseconds(1)});
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() <= *gone.expires_at) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up);
  }
  std::optional<Rec> made;
  EXPECT_GT(fail_each_allocation([&] { made = store_->create("gone", val(81)); }), 0);
  ASSERT_TRUE(made.has_value());
  EXPECT_EQ(made->revision, 1u);
  EXPECT_EQ(current("gone").value, val(81));
  EXPECT_EQ(store_->stats().expirations, 1u);
}

}  // namespace
}  // namespace vkv_test
