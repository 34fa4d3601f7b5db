// Every "absent because expired" verdict is decided by the compare-and-swap that removes
// the record. A version-checked write checks the record's expiry
// stamp, then installs by a CAS; between the two the stamp may pass. If another
// operation then reports the record absent without removing it, the write still
// installs afterwards and the history has no linearization: the record was absent, then
// present again at revision 2 with nobody creating it.
//
// The interleaving is placed exactly, with no timing: the victim write is parked in
// that gap by its value's copy constructor (the write copies the value it built, for
// its result, after its check and before its CAS) and the expiry clock is moved forward
// by the test clock (detail::advance_expiry_clock) while it is parked. Then each path
// that can report the record absent runs to completion, the victim is released, and
// the outcomes must have a linearization: a path that said "absent" has removed the
// record, so the victim's CAS fails and it reports not found, and the record stays
// absent. A path that said "absent" without removing the record (find_many, for_each,
// patch's early read, commit's step 0, both update_with_retry loops, the report of a
// losing CAS) would let the parked write succeed at revision 2.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

using namespace std::chrono_literals;

// A gate a thread arms for its next copy of a Doc: that copy announces it has arrived
// and waits until the test opens the gate.
struct Gate {
  std::atomic<bool> reached{false};
  std::atomic<bool> open{false};
  void wait_reached() const {
    // acquire: pairs with the parked thread's release (what it did before is visible).
    while (!reached.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  void release() { open.store(true, std::memory_order_release); }  // pairs with the wait
};
constinit thread_local Gate* armed_gate = nullptr;

// A value owning heap memory whose copy may park its thread (see Gate).
struct Doc {
  std::string body;
  explicit Doc(std::string text) : body(std::move(text)) {}
  Doc(const Doc& other) : body(other.body) {
    if (Gate* gate = armed_gate) {
      armed_gate = nullptr;
      gate->reached.store(true, std::memory_order_release);  // pairs with wait_reached
      // acquire: pairs with release(); the test's steps happen before we go on.
      while (!gate->open.load(std::memory_order_acquire)) std::this_thread::yield();
    }
  }
  Doc(Doc&&) noexcept = default;
  Doc& operator=(const Doc&) = default;
  Doc& operator=(Doc&&) noexcept = default;
};

using DStore = vkv::Store<Doc>;

// A UUID-shaped id (36 characters) and bodies longer than the small-string buffer.
const std::string kId = "6f1c2a9e-3b7d-4e8a-9c0f-5d2b7a1e4c93";
Doc body(const char* tag) { return Doc(std::string(tag) + " -- a body that owns heap memory"); }

// A version-checked update parked between its expiry check and its CAS.
class ParkedWrite {
 public:
  ParkedWrite(DStore& store, vkv::Version expected, Doc value) {
    thread_ = std::thread([this, &store, expected, value = std::move(value)]() mutable {
      armed_gate = &gate_;
      result_.emplace(store.try_update_with_version(kId, expected, std::move(value)));
      armed_gate = nullptr;  // not reached (a path that copies no value): disarm
      gate_.reached.store(true, std::memory_order_release);  // and let the test go on
    });
    gate_.wait_reached();
  }
  ParkedWrite(const ParkedWrite&) = delete;
  ParkedWrite& operator=(const ParkedWrite&) = delete;
  ~ParkedWrite() {
    if (thread_.joinable()) finish();
  }
  // Lets it go on to its CAS and returns what it reports.
  vkv::Result<DStore::record_type> finish() {
    gate_.release();
    thread_.join();
    return std::move(*result_);
  }

 private:
  Gate gate_;
  std::optional<vkv::Result<DStore::record_type>> result_;
  std::thread thread_;
};

// What one path reported: true = "absent" (not found, not visited, no record).
enum class Path {
  find,
  find_many,
  for_each,
  visit,
  patch,
  commit_check,
  retry,
  adaptive_retry,
};

bool reports_absent(DStore& store, Path path, const vkv::Version& expected) {
  switch (path) {
    case Path::find:
      return !store.find(kId).has_value();
    case Path::find_many: {
      const std::vector<std::string> ids{kId};
      return !store.find_many(ids).front().has_value();
    }
    case Path::for_each: {
      bool seen = false;
      store.for_each([&](const DStore::record_type& r) { seen = seen || r.id == kId; });
      return !seen;
    }
    case Path::visit:
      return !store.visit(kId, [](const auto&) {});
    case Path::patch: {
      auto r = store.try_patch_with_version(kId, expected, [](Doc& d) { d.body += "!"; });
      if (!r.ok()) return r.error() == vkv::Errc::not_found;
      return false;
    }
    case Path::commit_check: {
      vkv::Transaction<Doc> tx;
      tx.check(kId, expected);
      auto r = store.try_commit(tx);
      return !r.ok() && r.error() == vkv::Errc::not_found;
    }
    case Path::retry:
    case Path::adaptive_retry:
      try {
        store.update_with_retry(kId, [](Doc& d) { d.body += "?"; });
        return false;
      } catch (const vkv::EntityNotFoundError&) {
        return true;
      }
  }
  return false;
}

class ExpiryVerdict : public ::testing::TestWithParam<Path> {};

TEST_P(ExpiryVerdict, AnAbsentVerdictRemovesTheRecordBeforeAParkedWriteInstalls) {
  vkv::StoreOptions options;
  options.contention_adaptive = GetParam() == Path::adaptive_retry;
  DStore store(options);
  const auto created = store.create(kId, body("first"), vkv::WriteOptions{.ttl = 1h});
  ParkedWrite victim(store, created.version, body("victim"));  // checked: live
  vkv::detail::advance_expiry_clock(2h);                       // the stamp passes now
  const bool absent = reports_absent(store, GetParam(), created.version);
  const auto written = victim.finish();
  const auto after = store.find(kId, vkv::ReadOptions{true});
  // The one linearization: the record expired (was removed) before the path read it; the
  // parked write comes after and finds nothing.
  EXPECT_TRUE(absent) << "the path met a record whose stamp had passed";
  ASSERT_FALSE(written.ok()) << "the write installed at revision " << written.value().revision
                             << " after the record was reported absent";
  EXPECT_EQ(written.error(), vkv::Errc::not_found);
  EXPECT_FALSE(after.has_value()) << "absent, then present again with nobody creating it";
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.stats().expirations, 1u);
}

std::string path_name(const ::testing::TestParamInfo<Path>& info) {
  static const char* const names[] = {"find",  "find_many",    "for_each", "visit",
                                      "patch", "commit_check", "retry",    "adaptive_retry"};
  return names[static_cast<int>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(EveryReadingPath, ExpiryVerdict,
                         ::testing::Values(Path::find, Path::find_many, Path::for_each, Path::visit,
                                           Path::patch, Path::commit_check, Path::retry,
                                           Path::adaptive_retry),
                         path_name);

// The report of a losing CAS. Writer L checked the record (live) and is parked; W
// replaces it by a node stamped to expire; writer V checks W (live) and is parked; the
// stamp passes; L's CAS loses to W and L must decide on W: W has expired, so L reports
// not found, and that verdict must be W's removal, or V installs over W afterwards.
TEST(ExpiryVerdictLosingCas, TheWinnerReportedAbsentIsRemoved) {
  DStore store;
  const auto first = store.create(kId, body("first"));
  ParkedWrite loser(store, first.version, body("loser"));
  const auto winner =
      store.update_with_version(kId, first.version, body("winner"), vkv::WriteOptions{.ttl = 1h});
  ParkedWrite victim(store, winner.version, body("victim"));
  vkv::detail::advance_expiry_clock(2h);
  const auto lost = loser.finish();
  const auto written = victim.finish();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error(), vkv::Errc::not_found);  // the winner had expired
  ASSERT_FALSE(written.ok()) << "installed at revision " << written.value().revision
                             << " after the loser reported the record absent";
  EXPECT_EQ(written.error(), vkv::Errc::not_found);
  EXPECT_FALSE(store.find(kId, vkv::ReadOptions{true}).has_value());
  EXPECT_EQ(store.stats().expirations, 1u);
}

// The issue's history, in one run: find_many -> absent, try_patch -> not found,
// try_commit(check) -> not found, then the update parked across them must not succeed.
TEST(ExpiryVerdictHistory, TheIssuesInterleavingHasALinearization) {
  DStore store;
  const auto created = store.create(kId, body("first"), vkv::WriteOptions{.ttl = 1h});
  ParkedWrite victim(store, created.version, body("victim"));
  vkv::detail::advance_expiry_clock(2h);
  EXPECT_TRUE(reports_absent(store, Path::find_many, created.version));
  EXPECT_TRUE(reports_absent(store, Path::patch, created.version));
  EXPECT_TRUE(reports_absent(store, Path::commit_check, created.version));
  const auto written = victim.finish();
  EXPECT_FALSE(written.ok());
  EXPECT_FALSE(store.find(kId).has_value());
}

// The control: a record whose stamp has not passed is present to every path, and the
// parked write then installs over it (revision 2): the gate does not make writes fail.
TEST(ExpiryVerdictHistory, ALiveRecordStaysPresentAndTheParkedWriteWins) {
  DStore store;
  const auto created = store.create(kId, body("first"), vkv::WriteOptions{.ttl = 1h});
  ParkedWrite victim(store, created.version, body("victim"));
  const std::vector<std::string> ids{kId};
  EXPECT_TRUE(store.find_many(ids).front().has_value());
  const auto written = victim.finish();
  ASSERT_TRUE(written.ok());
  EXPECT_EQ(written.value().revision, 2u);
  EXPECT_EQ(store.find(kId)->value.body, body("victim").body);
}

}  // namespace
