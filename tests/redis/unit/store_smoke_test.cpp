// vkv::redis::Store against a real redis-server started by the test (RedisServer from
// tests/support/redis/: 127.0.0.1, a port it picks, killed by pid, also on failure):
// the operations' semantics, the stored layout, TTLs, commits, scans and a few faults.
// The full contract, linearizability and fault suites live in tests/redis/ (harness).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_proxy.hpp"
#include "scripts.hpp"
#include "support/redis/admin.hpp"
#include "support/redis/server.hpp"
#include "vkv/redis.hpp"

namespace {

using vkv::Errc;
using vkv::Version;
using vkv::redis::Options;
using vkv_test::redis::Admin;
using vkv_test::redis::RedisServer;
using vkv_test::redis::Reply;
using vkv_test::redis::ServerOptions;
using vkv_test::redis::TempDir;

// A throwaway server: no AOF, no snapshots (these tests never restart one). Throws, with
// the server's log, if it does not answer PING in time.
std::unique_ptr<RedisServer> start_server(const TempDir& dir, const std::string& name) {
  ServerOptions options;
  options.durable = false;
  return std::make_unique<RedisServer>(dir.path() / name, options);
}

// One command on a fresh connection, for checks from outside the store: the reply as
// text ("<error>" when there is none, "<nil>", integers in decimal, an array as its
// first element bracketed: "[fenced]", or "[[...]" when that is an array too).
std::string command(const RedisServer& server, const std::vector<std::string>& args) {
  Reply reply;
  try {
    Admin admin(server.host(), server.port(), std::chrono::milliseconds(2000));
    reply = admin.command(args);
  } catch (const std::exception&) {
    return "<error>";
  }
  switch (reply.type) {
    case Reply::Type::integer:
      return std::to_string(reply.integer);
    case Reply::Type::nil:
      return "<nil>";
    case Reply::Type::array: {
      std::string out = "[";
      if (!reply.elements.empty()) {
        const Reply& first = reply.elements[0];
        if (first.type == Reply::Type::array) {
          out += "[...";
        } else if (first.type != Reply::Type::integer && first.type != Reply::Type::nil) {
          out += first.text;
        }
      }
      return out + "]";
    }
    default:
      return reply.text;  // string, status and error replies
  }
}

class RedisStore : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      dir_ = new TempDir("vkv-redis-smoke");
      server_ = start_server(*dir_, "shared").release();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete server_;  // kills it by pid
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "redis-server did not start: " << start_error_;
  }

  // A fresh entity type per test: tests never see each other's records.
  static Options options(const std::string& entity) {
    Options options;
    options.nodes = {server_->uri()};
    options.entity_type = entity;
    options.key_prefix = "smoke";
    options.connections_per_node = 4;
    options.command_timeout = std::chrono::milliseconds(2000);
    return options;
  }

  static TempDir* dir_;
  static RedisServer* server_;
  static std::string start_error_;
};
TempDir* RedisStore::dir_ = nullptr;
RedisServer* RedisStore::server_ = nullptr;
std::string RedisStore::start_error_;

TEST_F(RedisStore, CreateFindUpdateAndConflictCarriesTheCurrentRecord) {
  std::vector<vkv::ConflictEvent> events;
  Options o = options("Basic");
  o.on_conflict = [&](const vkv::ConflictEvent& e) { events.push_back(e); };
  vkv::redis::Store<std::string> store(o);

  const auto created = store.create("a", "one");
  EXPECT_EQ(created.revision, 1u);
  EXPECT_FALSE(created.deleted);
  EXPECT_FALSE(created.version.is_nil());
  EXPECT_FALSE(created.expires_at.has_value());
  const auto found = store.find("a");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->value, "one");
  EXPECT_EQ(found->version, created.version);

  const auto updated = store.update_with_version("a", created.version, "two");
  EXPECT_EQ(updated.revision, 2u);
  EXPECT_NE(updated.version, created.version);

  auto stale = store.try_update_with_version("a", created.version, "three");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error(), Errc::conflict);
  ASSERT_TRUE(stale.current().has_value());
  EXPECT_EQ(stale.current()->value, "two");
  EXPECT_EQ(stale.current()->version, updated.version);
  EXPECT_EQ(stale.error_info().actual, updated.version);
  EXPECT_THROW(store.update_with_version("a", created.version, "x"), vkv::OptimisticLockError);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].entity_id, "a");
  EXPECT_EQ(events[0].expected, created.version);
  EXPECT_EQ(events[0].actual, updated.version);

  EXPECT_THROW(store.create("a", "dup"), vkv::DuplicateKeyError);
  EXPECT_EQ(store.find("a")->value, "two");  // the refused writes changed nothing

  // The stored layout: one hash with the four fields.
  EXPECT_EQ(command(*server_, {"HGET", "smoke:Basic:a", "value"}), "two");
  EXPECT_EQ(command(*server_, {"HGET", "smoke:Basic:a", "version"}), updated.version.to_string());
  EXPECT_EQ(command(*server_, {"HGET", "smoke:Basic:a", "revision"}), "2");
  EXPECT_EQ(command(*server_, {"HGET", "smoke:Basic:a", "deleted"}), "0");

  const auto stats = store.stats();
  EXPECT_EQ(stats.creates, 1u);
  EXPECT_EQ(stats.writes, 1u);
  EXPECT_EQ(stats.conflicts, 2u);
  EXPECT_EQ(stats.reads, 2u);
}

TEST_F(RedisStore, SoftDeleteRestoreEraseAndNotFound) {
  vkv::redis::Store<std::string> store(options("Lifecycle"));
  EXPECT_EQ(store.try_update_with_version("none", Version(), "x").error(), Errc::not_found);
  const auto r1 = store.create("k", "v");
  const auto deleted = store.soft_delete("k", r1.version);
  EXPECT_TRUE(deleted.deleted);
  EXPECT_EQ(deleted.value, "v");
  EXPECT_FALSE(store.find("k"));
  EXPECT_TRUE(store.find("k", {true}));
  EXPECT_FALSE(store.visit("k", [](const auto&) { FAIL(); }));

  auto refused = store.try_update_with_version("k", deleted.version, "w");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error_info().reason, "soft-deleted");
  EXPECT_EQ(store.try_soft_delete("k", deleted.version).error(), Errc::not_found);
  EXPECT_THROW(store.create("k", "again"), vkv::DuplicateKeyError);

  vkv::WriteOptions include;
  include.include_soft_deleted = true;
  const auto still_deleted = store.update_with_version("k", deleted.version, "w", include);
  EXPECT_TRUE(still_deleted.deleted);
  EXPECT_EQ(still_deleted.value, "w");

  const auto restored = store.restore("k", still_deleted.version);
  EXPECT_FALSE(restored.deleted);
  EXPECT_EQ(restored.revision, 4u);
  EXPECT_EQ(store.try_restore("k", restored.version).error_info().reason, "not soft-deleted");

  EXPECT_EQ(store.try_erase("k", r1.version).error(), Errc::conflict);
  auto erased = store.try_erase("k", restored.version);
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(erased.value().value, "w");
  EXPECT_FALSE(store.find("k", {true}));
  // What is left: the erase's tombstone naming the version it removed, for a minute
  // (fault resolution reads it, src/redis/resolve.hpp), then nothing.
  EXPECT_EQ(command(*server_, {"HLEN", "smoke:Lifecycle:k"}), "1");
  EXPECT_EQ(
      command(*server_, {"HEXISTS", "smoke:Lifecycle:k", "gone:" + restored.version.to_string()}),
      "1");
  const long long left = std::stoll(command(*server_, {"PTTL", "smoke:Lifecycle:k"}));
  EXPECT_GT(left, 0);
  EXPECT_LE(left, 60000);
  const auto again = store.create("k", "new");
  EXPECT_EQ(again.revision, 1u);
  EXPECT_NE(again.version, r1.version);
  EXPECT_FALSE(again.expires_at);  // the tombstone's expiry is not the new record's
  EXPECT_EQ(command(*server_, {"PTTL", "smoke:Lifecycle:k"}), "-1");
}

TEST_F(RedisStore, PatchPutFindOrCreate) {
  vkv::redis::Store<long> store(options("Cache"));
  const auto put1 = store.put("n", 5);
  EXPECT_EQ(put1.revision, 1u);
  const auto put2 = store.put("n", 6);
  EXPECT_EQ(put2.revision, 2u);
  const auto patched = store.patch_with_version("n", put2.version, [](long& v) { v *= 10; });
  EXPECT_EQ(patched.value, 60);
  int calls = 0;
  EXPECT_THROW(store.patch_with_version("n", put2.version, [&](long&) { ++calls; }),
               vkv::OptimisticLockError);
  EXPECT_EQ(calls, 0);  // mutate runs only when the version matches
  EXPECT_EQ(store.find_or_create("n", [] { return 1L; }).value, 60);
  EXPECT_EQ(store.find_or_create("m", [] { return 7L; }).value, 7);
  EXPECT_EQ(command(*server_, {"HGET", "smoke:Cache:m", "value"}), "7");  // decimal text
  const auto m = *store.find("m");
  store.soft_delete("m", m.version);
  EXPECT_THROW(store.find_or_create("m", [] { return 1L; }), vkv::DuplicateKeyError);
}

TEST_F(RedisStore, UpdateWithRetryFromManyThreadsLosesNoIncrement) {
  vkv::redis::Store<long> store(options("Counter"));
  store.create("c", 0);
  constexpr int kThreads = 4;
  constexpr int kEach = 40;
  vkv::RetryPolicy policy;
  policy.max_retries = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        store.update_with_retry(
            "c", [](long& v) { ++v; }, policy);
    });
  }
  for (auto& thread : threads) thread.join();
  const auto final_record = *store.find("c");
  EXPECT_EQ(final_record.value, kThreads * kEach);
  EXPECT_EQ(final_record.revision, 1u + kThreads * kEach);
  const auto stats = store.stats();
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_EQ(stats.retries, stats.conflicts);
  EXPECT_THROW(store.update_with_retry("absent", [](long&) {}), vkv::EntityNotFoundError);
}

// Threads share a pool of two connections: they wait for one, never open a third, and
// lose no increment.
TEST_F(RedisStore, APoolOfTwoServesManyThreadsWithinItsBound) {
  const auto own = start_server(*dir_, "pool");  // its own server: the client count is ours alone
  Options o = options("Pool");
  o.nodes = {own->uri()};
  o.connections_per_node = 2;
  vkv::redis::Store<long> store(o);
  store.create("c", 0);
  constexpr int kThreads = 6;
  constexpr int kEach = 30;
  vkv::RetryPolicy policy;
  policy.max_retries = 10000;
  int peak_clients = 0;  // sampled by this thread only
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i)
        store.update_with_retry(
            "c", [](long& v) { ++v; }, policy);
    });
  }
  for (int probe = 0; probe < 20; ++probe) {  // sample while they run
    const std::string info = command(*own, {"INFO", "clients"});
    const auto at = info.find("connected_clients:");
    if (at != std::string::npos) {
      const int clients = std::stoi(info.substr(at + 18)) - 1;  // minus this probe
      peak_clients = std::max(peak_clients, clients);
    }
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(store.find("c")->value, kThreads * kEach);
  EXPECT_LE(peak_clients, 2);
  EXPECT_GE(peak_clients, 1);
}

TEST_F(RedisStore, BatchesAnswerInOrder) {
  vkv::redis::Store<std::string> store(options("Batch"));
  const auto a = store.create("a", "1");
  const auto b = store.create("b", "2");
  const std::vector<std::string> ids = {"b", "missing", "a"};
  const auto found = store.find_many(ids);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0]->value, "2");
  EXPECT_FALSE(found[1]);
  EXPECT_EQ(found[2]->value, "1");
  using W = vkv::redis::Store<std::string>::VersionedWrite;
  const std::vector<W> writes = {
      {"a", a.version, "1b"}, {"b", a.version, "2b"}, {"z", b.version, ""}};
  const auto results = store.update_many(writes);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].error(), Errc::conflict);
  EXPECT_EQ(results[1].current()->value, "2");
  EXPECT_EQ(results[2].error(), Errc::not_found);
  EXPECT_EQ(store.find("a")->value, "1b");
}

TEST_F(RedisStore, CommitIsAllOrNothing) {
  vkv::redis::Store<std::string> store(options("Tx"));
  const auto a = store.create("a", "1");
  const auto b = store.create("b", "2");
  const auto c = store.create("c", "3");
  vkv::Transaction<std::string> bad;
  bad.update("a", a.version, "1x").check("b", a.version).erase("c", c.version);
  auto failed = store.try_commit(bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error(), Errc::conflict);
  EXPECT_EQ(failed.error_info().entity_id, "b");
  EXPECT_FALSE(failed.current().has_value());
  EXPECT_EQ(store.find("a")->version, a.version);  // nothing applied
  EXPECT_TRUE(store.find("c"));

  vkv::Transaction<std::string> good;
  good.update("a", a.version, "1x").check("b", b.version).erase("c", c.version);
  const auto records = store.commit(good);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].value, "1x");
  EXPECT_EQ(records[0].revision, 2u);
  EXPECT_EQ(records[1].version, b.version);
  EXPECT_EQ(records[2].value, "3");
  EXPECT_EQ(store.find("a")->value, "1x");
  EXPECT_FALSE(store.find("c"));

  vkv::Transaction<std::string> twice;
  twice.check("a", a.version).check("a", a.version);
  EXPECT_THROW(store.commit(twice), std::invalid_argument);
  EXPECT_THROW(store.try_commit(twice), std::invalid_argument);
}

TEST_F(RedisStore, TtlIsTheKeysOwnExpiry) {
  vkv::redis::Store<std::string> store(options("Ttl"));
  vkv::WriteOptions hour;
  hour.ttl = std::chrono::hours(1);
  const auto before = std::chrono::steady_clock::now();
  const auto r = store.create("t", "v", hour);
  ASSERT_TRUE(r.expires_at.has_value());
  EXPECT_GT(*r.expires_at, before + std::chrono::minutes(59));
  EXPECT_LE(*r.expires_at, std::chrono::steady_clock::now() + std::chrono::hours(1));
  const long pttl = std::stol(command(*server_, {"PTTL", "smoke:Ttl:t"}));
  EXPECT_GT(pttl, 3500 * 1000);
  const auto deleted = store.soft_delete("t", r.version);  // keeps the expiry
  EXPECT_TRUE(deleted.expires_at.has_value());
  vkv::WriteOptions forever;
  forever.ttl = std::chrono::nanoseconds(0);
  vkv::WriteOptions include = forever;
  include.include_soft_deleted = true;
  const auto kept = store.update_with_version("t", deleted.version, "w", include);
  EXPECT_FALSE(kept.expires_at.has_value());
  EXPECT_EQ(command(*server_, {"PTTL", "smoke:Ttl:t"}), "-1");
}

TEST_F(RedisStore, ForEachScansEveryRecordOnce) {
  vkv::redis::Store<long> store(options("Scan*[x]"));  // glob characters in the prefix
  vkv::redis::Store<long> other(options("Scan"));
  other.create("not-mine", 1);
  constexpr int kRecords = 600;  // more than one SCAN page
  for (int i = 0; i < kRecords; ++i) store.create("r" + std::to_string(i), i);
  store.soft_delete("r0", store.find("r0")->version);
  std::set<std::string> seen;
  long sum = 0;
  store.for_each([&](const vkv::Record<long>& record) {
    seen.insert(record.id);
    sum += record.value;
  });
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kRecords - 1));
  EXPECT_EQ(sum, static_cast<long>(kRecords) * (kRecords - 1) / 2);
  std::size_t with_deleted = 0;
  store.for_each([&](const vkv::Record<long>&) { ++with_deleted; }, {true});
  EXPECT_EQ(with_deleted, static_cast<std::size_t>(kRecords));
}

TEST_F(RedisStore, UndecodableValueIsAClearErrorNotACrash) {
  vkv::redis::Store<int> store(options("Decode"));
  const auto r = store.create("x", 1);
  command(*server_, {"HSET", "smoke:Decode:x", "value", "not a number"});
  try {
    store.find("x");
    FAIL() << "no DecodeError";
  } catch (const vkv::redis::DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("smoke:Decode:x"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.update_with_version("x", Version(), 2), vkv::redis::DecodeError);
  EXPECT_EQ(r.value, 1);
}

TEST_F(RedisStore, UnreachableServerIsUnavailableAndNothingIsTried) {
  Options o = options("Down");
  o.nodes = {"redis://127.0.0.1:" + std::to_string(vkv_test::redis::pick_free_port())};
  o.connect_timeout = std::chrono::milliseconds(300);
  vkv::redis::Store<std::string> store(o);
  EXPECT_THROW(store.find("a"), vkv::UnavailableError);
  auto created = store.try_create("a", "v");
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error(), Errc::unavailable);
  EXPECT_FALSE(created.error_info().reason.empty());
}

TEST_F(RedisStore, ServerKilledUnderPooledConnectionsNeverKillsTheProcess) {
  const auto victim = start_server(*dir_, "victim");
  struct sigaction before {};
  sigaction(SIGPIPE, nullptr, &before);
  Options o = options("Victim");
  o.nodes = {victim->uri()};
  o.connect_timeout = std::chrono::milliseconds(300);
  o.command_timeout = std::chrono::milliseconds(300);
  vkv::redis::Store<std::string> store(o);
  const auto r = store.create("a", std::string(1 << 20, 'x'));  // a pooled connection now
  victim->kill9();
  for (int i = 0; i < 3; ++i) {
    auto result = store.try_update_with_version("a", r.version, std::string(1 << 20, 'y'));
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(result.error() == Errc::unavailable || result.error() == Errc::unknown_outcome);
  }
  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(before.sa_handler, after.sa_handler);  // disposition untouched
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST_F(RedisStore, StoppedServerGivesUnknownOutcomeThenRecovers) {
  const auto victim = start_server(*dir_, "victim");
  Options o = options("Stalled");
  o.nodes = {victim->uri()};
  o.command_timeout = std::chrono::milliseconds(200);
  vkv::redis::Store<std::string> store(o);
  const auto r = store.create("a", "v");
  kill(victim->pid(), SIGSTOP);  // there, but it does not answer
  auto result = store.try_update_with_version("a", r.version, "w");
  kill(victim->pid(), SIGCONT);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), Errc::unknown_outcome) << result.error_info().reason;
  // The store works again, and the record is in one of the two states.
  const auto now = store.find("a");
  ASSERT_TRUE(now);
  EXPECT_TRUE(now->value == "v" || now->value == "w");
  const auto next = store.update_with_version("a", now->version, "z");
  EXPECT_EQ(next.revision, now->revision + 1);
}

// A write whose reply is lost after the server ran it: the store fences, finds the
// record carrying the write's fresh version, and reports success with that record.
TEST_F(RedisStore, LostReplyOfAnAppliedWriteIsReportedAsCommitted) {
  vkv_test::FaultProxy proxy(server_->port());
  Options o = options("LostReply");
  o.nodes = {proxy.uri()};
  o.command_timeout = std::chrono::milliseconds(300);
  vkv::redis::Store<std::string> store(o);
  const auto r = store.create("a", "v1");
  proxy.drop_next_reply();
  auto result = store.try_update_with_version("a", r.version, "v2");
  ASSERT_TRUE(result.ok()) << result.error_info().reason;
  EXPECT_EQ(result.value().value, "v2");
  EXPECT_EQ(result.value().revision, 2u);
  const auto now = *store.find("a");
  EXPECT_EQ(now.version, result.value().version);  // applied once, reported once
  EXPECT_EQ(now.revision, 2u);
}

// A write lost before the server ran it: the store fences its version, finds the record
// unchanged and reports UnavailableError; when the lost bytes reach the server later,
// the write script refuses them, and the record stays as it was.
TEST_F(RedisStore, LostRequestIsNotAppliedAndCanNeverApplyLater) {
  vkv_test::FaultProxy proxy(server_->port());
  Options o = options("LostRequest");
  o.nodes = {proxy.uri()};
  o.command_timeout = std::chrono::milliseconds(300);
  vkv::redis::Store<std::string> store(o);
  const auto r = store.create("a", "v1");
  proxy.hold_next_request();
  auto result = store.try_update_with_version("a", r.version, "late");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), Errc::unavailable) << result.error_info().reason;
  ASSERT_TRUE(proxy.holding());
  proxy.release_held();  // the stalled command arrives after its fence
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (proxy.replies_after_release() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(proxy.replies_after_release(), 0u) << "the held command never ran";
  const auto now = *store.find("a");
  EXPECT_EQ(now.value, "v1");
  EXPECT_EQ(now.version, r.version);
  // A lost create: still absent after the fence, so not applied.
  proxy.hold_next_request();
  auto created = store.try_create("b", "v");
  EXPECT_EQ(created.error(), Errc::unavailable) << created.error_info().reason;
  proxy.release_held();
  const auto later = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (proxy.replies_after_release() < 2 && std::chrono::steady_clock::now() < later) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(store.find("b", {true}));
}

// The fence directly (src/redis/scripts.cpp): a fenced fresh version is refused by the
// write script, fences past their deadline are dropped by the next successful write, and
// a fence on an absent record leaves an expiring hash that reads as absent.
TEST_F(RedisStore, FencesRefuseTheFencedWriteAndDoNotAccumulate) {
  namespace d = vkv::redis::detail;
  vkv::redis::Store<std::string> store(options("Fence"));
  const auto r = store.create("f", "v");
  const std::string key = "smoke:Fence:f";
  const std::string fenced = vkv::detail::next_version().to_string();
  const std::string& fence = d::fence_script().body;
  const std::string& write = d::write_script().body;
  EXPECT_EQ(command(*server_, {"EVAL", fence, "1", key, fenced, "300000"}), "[[...]");
  EXPECT_EQ(command(*server_, {"HEXISTS", key, "fence:" + fenced}), "1");
  // The stalled write arrives after its fence: refused, nothing changes.
  EXPECT_EQ(command(*server_, {"EVAL", write, "1", key, "update", r.version.to_string(), fenced,
                               "late", "0", "0", "300000"}),
            "[fenced]");
  EXPECT_EQ(store.find("f")->value, "v");
  EXPECT_EQ(store.find("f")->version, r.version);
  // A fence already past its deadline (lifetime 0) goes at the next successful write;
  // the live one stays.
  const std::string stale = vkv::detail::next_version().to_string();
  command(*server_, {"EVAL", fence, "1", key, stale, "0"});
  EXPECT_EQ(command(*server_, {"HLEN", key}), "6");
  store.update_with_version("f", r.version, "w");
  EXPECT_EQ(command(*server_, {"HEXISTS", key, "fence:" + stale}), "0");
  EXPECT_EQ(command(*server_, {"HEXISTS", key, "fence:" + fenced}), "1");
  EXPECT_EQ(command(*server_, {"HLEN", key}), "5");
  // On an absent record: an expiring fence-only hash, which reads as absent.
  const std::string lone = "smoke:Fence:absent";
  command(*server_, {"EVAL", fence, "1", lone, vkv::detail::next_version().to_string(), "300000"});
  EXPECT_EQ(command(*server_, {"EXISTS", lone}), "1");
  EXPECT_GT(std::stol(command(*server_, {"PTTL", lone})), 0);
  EXPECT_FALSE(store.find("absent", {true}));
  EXPECT_EQ(store.try_update_with_version("absent", r.version, "x").error(), Errc::not_found);
  std::size_t seen = 0;
  store.for_each([&](const auto&) { ++seen; });
  EXPECT_EQ(seen, 1u);  // "f" only
  EXPECT_EQ(store.create("absent", "now").revision, 1u);
}

}  // namespace
