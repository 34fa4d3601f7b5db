// The Store contract over both stores (see contract_test.cpp): batches, atomic commits,
// update_with_retry under real contention, for_each and stats.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis/contract_fixture.hpp"

namespace vkv_test::redis {
namespace {

template <class B>
using Batch = StoreContract<B>;
TYPED_TEST_SUITE(Batch, Backends, BackendNames);

TYPED_TEST(Batch, FindManyAnswersInTheOrderAsked) {
  auto& s = this->store();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back("k" + std::to_string(i));  // spread over the cluster's slots
    s.create(ids.back(), "v" + std::to_string(i));
  }
  const auto deleted = s.soft_delete("k3", s.find("k3")->version);
  std::vector<std::string> asked = {"k5", "absent", "k0", "k19", "k3", "k5"};
  const auto got = s.find_many(std::span<const std::string>(asked));
  ASSERT_EQ(got.size(), asked.size());
  EXPECT_EQ(got[0]->value, "v5");
  EXPECT_FALSE(got[1].has_value());
  EXPECT_EQ(got[2]->value, "v0");
  EXPECT_EQ(got[3]->value, "v19");
  EXPECT_FALSE(got[4].has_value());
  EXPECT_EQ(got[5]->value, "v5");
  const auto with_deleted = s.find_many(std::span<const std::string>(asked),
                                        vkv::ReadOptions{.include_soft_deleted = true});
  ASSERT_TRUE(with_deleted[4].has_value());
  EXPECT_TRUE(same_record(*with_deleted[4], deleted));
}

TYPED_TEST(Batch, UpdateManyAppliesEachWriteIndependently) {
  using W = typename TestFixture::StoreT::VersionedWrite;
  auto& s = this->store();
  const auto a = s.create("a", "a0");
  const auto b = s.create("b", "b0");
  const auto b1 = s.update_with_version("b", b.version, "b1");
  const auto c = s.create("c", "c0");
  std::vector<W> writes = {W{"a", a.version, "a1"}, W{"b", b.version, "stale"},
                           W{"nobody", a.version, "x"}, W{"c", c.version, "c1"}};
  const auto results = s.update_many(std::span<const W>(writes));
  ASSERT_EQ(results.size(), 4u);
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0].value().value, "a1");
  EXPECT_EQ(results[0].value().revision, 2u);
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error(), vkv::Errc::conflict);
  ASSERT_TRUE(results[1].current().has_value());
  EXPECT_TRUE(same_record(*results[1].current(), b1));
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error(), vkv::Errc::not_found);
  ASSERT_TRUE(results[3].ok());
  EXPECT_EQ(results[3].value().value, "c1");
  EXPECT_EQ(s.find("a")->value, "a1");
  EXPECT_TRUE(same_record(*s.find("b"), b1));
  EXPECT_EQ(s.find("c")->value, "c1");
  EXPECT_FALSE(s.find("nobody").has_value());
  // Many writes at once, across slots.
  std::vector<W> many;
  for (int i = 0; i < 100; ++i) {
    const auto r = s.create("m" + std::to_string(i), "0");
    many.push_back(W{r.id, r.version, "1"});
  }
  const auto all = s.update_many(std::span<const W>(many));
  ASSERT_EQ(all.size(), 100u);
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_TRUE(all[i].ok()) << i;
    EXPECT_EQ(all[i].value().id, many[i].id);
    EXPECT_EQ(s.find(many[i].id)->revision, 2u);
  }
}

TYPED_TEST(Batch, CommitIsAllOrNothing) {
  auto& s = this->store();
  const std::string a = this->tagged("a"), b = this->tagged("b"), c = this->tagged("c"),
                    d = this->tagged("d");
  const auto ra = s.create(a, "a0");
  const auto rb = s.create(b, "b0");
  const auto rc = s.create(c, "c0");
  const auto rd = s.create(d, "d0");
  vkv::Transaction<std::string> tx;
  tx.check(a, ra.version)
      .update(b, rb.version, "b1")
      .soft_delete(c, rc.version)
      .erase(d, rd.version);
  const auto out = s.commit(tx);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(same_record(out[0], ra));  // the record as checked
  EXPECT_EQ(out[1].value, "b1");
  EXPECT_EQ(out[1].revision, 2u);
  EXPECT_TRUE(out[2].deleted);
  EXPECT_TRUE(same_record(out[3], rd));  // the record as it was before the erase
  EXPECT_TRUE(same_record(*s.find(b), out[1]));
  EXPECT_FALSE(s.find(c).has_value());
  EXPECT_FALSE(s.find(d, vkv::ReadOptions{.include_soft_deleted = true}).has_value());
  // A stale version on the second entry: nothing changes, the error names that key.
  const auto before_a = *s.find(a);
  const auto before_b = *s.find(b);
  vkv::Transaction<std::string> stale;
  stale.update(a, ra.version, "a1").update(b, rb.version, "b2");
  try {
    s.commit(stale);
    ADD_FAILURE() << "no OptimisticLockError";
  } catch (const vkv::OptimisticLockError& e) {
    EXPECT_TRUE(names_key(e, this->entity(), b));
  }
  auto r = s.try_commit(stale);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), vkv::Errc::conflict);
  EXPECT_FALSE(r.current().has_value());
  EXPECT_TRUE(same_record(*s.find(a), before_a));
  EXPECT_TRUE(same_record(*s.find(b), before_b));
  // Not found: a soft-deleted record is not found by check.
  vkv::Transaction<std::string> on_deleted;
  on_deleted.check(c, out[2].version);
  auto nf = s.try_commit(on_deleted);
  ASSERT_FALSE(nf.ok());
  EXPECT_EQ(nf.error(), vkv::Errc::not_found);
  // The same id twice is a programming error.
  vkv::Transaction<std::string> twice;
  twice.update(a, before_a.version, "x").check(a, before_a.version);
  EXPECT_THROW(s.commit(twice), std::invalid_argument);
  EXPECT_THROW(s.try_commit(twice), std::invalid_argument);
  EXPECT_TRUE(same_record(*s.find(a), before_a));
  auto ok = s.try_commit(vkv::Transaction<std::string>().update(a, before_a.version, "a9"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().at(0).value, "a9");
}

TYPED_TEST(Batch, UpdateWithRetryLosesNoIncrementUnderContention) {
  auto& s = this->store();
  s.create("counter", "0");
  constexpr int kThreads = 4, kIncrements = 40;
  vkv::RetryPolicy policy;
  policy.max_retries = 10000;  // contention must never exhaust it: every increment lands
  std::atomic<int> mutate_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        s.update_with_retry(
            "counter",
            [&](std::string& v) {
              // relaxed: a count read after join(), which orders it.
              mutate_calls.fetch_add(1, std::memory_order_relaxed);
              v = std::to_string(std::stoll(v) + 1);
            },
            policy);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto final_record = *s.find("counter");
  EXPECT_EQ(final_record.value, std::to_string(kThreads * kIncrements));
  EXPECT_EQ(final_record.revision, 1u + kThreads * kIncrements);
  const auto stats = s.stats();
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(kThreads * kIncrements));
  EXPECT_EQ(static_cast<std::uint64_t>(mutate_calls.load()), stats.writes + stats.conflicts);
  EXPECT_EQ(stats.retries, stats.conflicts);
  EXPECT_EQ(stats.retries_exhausted, 0u);
  EXPECT_THROW(s.update_with_retry("nobody", [](std::string&) {}), vkv::EntityNotFoundError);
}

TYPED_TEST(Batch, StatsCountWhatHappened) {
  auto& s = this->store();
  const auto a = s.create("a", "1");
  s.create("b", "1");
  const auto a2 = s.update_with_version("a", a.version, "2");
  EXPECT_FALSE(s.try_update_with_version("a", a.version, "x").ok());   // conflict
  EXPECT_FALSE(s.try_update_with_version("zz", a.version, "x").ok());  // not found
  EXPECT_FALSE(s.try_create("a", "dup").ok());
  s.find("a");
  s.find("missing");
  std::vector<std::string> ids = {"a", "b", "c"};
  s.find_many(std::span<const std::string>(ids));
  s.soft_delete("a", a2.version);
  const auto st = s.stats();
  EXPECT_EQ(st.creates, 2u);
  EXPECT_EQ(st.writes, 2u);  // the update and the soft delete
  EXPECT_EQ(st.conflicts, 1u);
  EXPECT_EQ(st.not_found, 1u);
  EXPECT_EQ(st.reads, 5u);
  EXPECT_EQ(st.retries, 0u);
  EXPECT_DOUBLE_EQ(st.conflict_rate(), 1.0 / 3.0);
}

TYPED_TEST(Batch, ForEachVisitsEveryRecordOnce) {
  auto& s = this->store();
  std::set<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    expected.insert("e" + std::to_string(i));
    s.create("e" + std::to_string(i), std::to_string(i));
  }
  s.soft_delete("e7", s.find("e7")->version);
  std::multiset<std::string> seen;
  s.for_each([&](const auto& rec) {
    seen.insert(rec.id);
    EXPECT_EQ(rec.value, rec.id.substr(1));
  });
  expected.erase("e7");
  EXPECT_EQ(seen, std::multiset<std::string>(expected.begin(), expected.end()));
  std::size_t with_deleted = 0;
  s.for_each([&](const auto&) { ++with_deleted; }, vkv::ReadOptions{.include_soft_deleted = true});
  EXPECT_EQ(with_deleted, 60u);
}

// Cluster only: a commit across hash slots is refused before anything is sent.
TEST(RedisClusterCommit, CrossSlotCommitIsAnInvalidArgumentNamingTheKeys) {
  StoreSpec spec;
  spec.entity_type = unique_entity("Account");
  auto s = RedisClusterBackend::make(spec);
  RedisCluster& cluster = shared_cluster();
  // Two ids whose keys land in different slots.
  const std::string prefix = "vkv:" + spec.entity_type + ":";
  const std::string first = "acct-x";
  std::string other = "acct-y0";
  for (int i = 1; cluster.key_slot(prefix + first) == cluster.key_slot(prefix + other); ++i) {
    other = "acct-y" + std::to_string(i);
  }
  const auto x = s->create(first, "x0");
  const auto y = s->create(other, "y0");
  vkv::Transaction<std::string> tx;
  tx.update(first, x.version, "x1").update(other, y.version, "y1");
  for (int round = 0; round < 2; ++round) {
    try {
      if (round == 0) {
        s->commit(tx);
      } else {
        (void)s->try_commit(tx);
      }
      ADD_FAILURE() << "no std::invalid_argument";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(first), std::string::npos) << what;
      EXPECT_NE(what.find(other), std::string::npos) << what;
    }
  }
  EXPECT_TRUE(same_record(*s->find(first), x));
  EXPECT_TRUE(same_record(*s->find(other), y));
  EXPECT_EQ(s->stats().writes, 0u);
}

}  // namespace
}  // namespace vkv_test::redis
