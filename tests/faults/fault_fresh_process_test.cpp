// Each kind of write as the very first vkv call of a fresh process, with every one of
// its allocations failed in turn: no abort, and every failure leaves no trace.
//
// fault_alloc_test fails allocations in a process that has long been using vkv, so
// whatever vkv builds lazily (a thread's epoch record, its exit hook, process-wide
// lists) was built before the injector was armed. Here it is not: for each write kind
// and N = 1, 2, ... this process (which never calls vkv itself) forks a child, and the
// child fails the Nth allocation of the write. A bad_alloc thrown after the write's
// deciding compare-and-swap would meet a noexcept function and end the child with
// std::terminate (SIGABRT), which the parent reports with the case and N.
//
// In the child, the state the write needs (records, their versions, a snapshot) is
// made by a helper thread that stays alive until the write is done, so the write is
// the first vkv call of its thread; `create` and `find_many/update_many` on an empty
// store need no state, so for them it is the first vkv call of the process. After a
// failure the child checks: the store equals the snapshot (records, size, write
// counters), the same write then succeeds without injection, and once the store is
// destroyed and the epoch drained no value instance is left alive.
#include <execinfo.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <latch>
#include <map>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

#include "support/stress.hpp"

// This TU owns the binary's replacement operator new/delete.
#include "support/failing_allocator.hpp"

namespace vkv_test {
namespace {

using CStore = vkv::Store<Counted>;
using Rec = CStore::record_type;
namespace injected = vkv_test::injected;

// Long enough to defeat the small-string optimisation: copying a value allocates.
Counted val(std::int64_t v) { return Counted(v, std::string(40, static_cast<char>('a' + v % 26))); }

// The child's verdicts, as exit codes.
enum ChildExit : int {
  kCompleted = 0,      // the write completed and the Nth allocation never came: walk done
  kFailedCleanly = 1,  // bad_alloc escaped, and the failure left no trace
  kSwallowed = 3,      // the Nth allocation failed inside vkv, which handled it; write done
  kBroken = 2,         // a check failed (message on stderr)
};

struct Snapshot {
  std::map<std::string, std::optional<Rec>> records;
  std::size_t size = 0;
  std::uint64_t writes = 0, creates = 0;
};

const std::vector<std::string> kIds = {"key-0", "key-1", "key-2", "key-3", "absent"};

Snapshot take_snapshot(const CStore& store) {
  Snapshot s;
  for (const std::string& id : kIds) s.records[id] = store.find(id, vkv::ReadOptions{true});
  s.size = store.size();
  const vkv::StoreStats stats = store.stats();
  s.writes = stats.writes;
  s.creates = stats.creates;
  return s;
}

bool same_record(const std::optional<Rec>& a, const std::optional<Rec>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->value == b->value && a->version == b->version && a->revision == b->revision &&
                a->deleted == b->deleted);
}

// Empty when equal, else what differs.
std::string compare(const Snapshot& before, const Snapshot& after) {
  std::string diff;
  for (const auto& [id, record] : before.records) {
    if (!same_record(record, after.records.at(id))) diff += " record " + id + " changed;";
  }
  if (before.size != after.size) diff += " size() changed;";
  if (before.writes != after.writes) diff += " stats().writes changed;";
  if (before.creates != after.creates) diff += " stats().creates changed;";
  return diff;
}

// What a case's write starts from: built by the helper thread.
struct Start {
  std::map<std::string, vkv::Version> versions;  // of the records the setup made
  Snapshot snapshot;
};

struct Case {
  const char* name;
  // Makes the records the write needs, on the helper thread; empty when the write
  // needs none (then no vkv call precedes the write in the process).
  std::function<void(CStore&)> setup;
  // The write. Returns an error message when it completed with a wrong outcome. It
  // disarms the injector right after the call under test: checking the outcome
  // allocates, and must not be what fails.
  std::function<std::string(CStore&, const Start&)> write;
  // Optional, run by the writing thread before the injector is armed: brings that
  // thread to a chosen point (e.g. one retirement short of its first collection).
  std::function<void(CStore&, Start&)> warm_up = {};
  // Set while the case aborts on a known bug in code this test's owner does not own:
  // the case is then not instantiated (a skipped test would fail CI), unless
  // VKV_FRESH_PROCESS_ALL=1 asks for every case, e.g. to check a fix.
  const char* left_out = nullptr;
};

// key-0 .. key-3 live, with their versions in Start; optionally key-3 soft-deleted.
void make_records(CStore& store, bool soft_delete_last) {
  for (int i = 0; i < 4; ++i) store.create(kIds[static_cast<std::size_t>(i)], val(i));
  if (soft_delete_last) store.soft_delete("key-3", store.find("key-3")->version);
}

std::string expect(bool ok, const char* what) { return ok ? std::string() : std::string(what); }

std::vector<Case> cases() {
  auto records = [](CStore& s) { make_records(s, false); };
  auto with_deleted = [](CStore& s) { make_records(s, true); };
  const std::function<void(CStore&)> nothing;
  return {
      {"create", nothing,
       [](CStore& s, const Start&) {
         const Rec r = s.create("key-0", val(40));
         injected::disarm();
         return expect(r.revision == 1 && r.value == val(40), "create returned a wrong record");
       }},
      {"update_with_version", records,
       [](CStore& s, const Start& st) {
         const Rec r = s.update_with_version("key-0", st.versions.at("key-0"), val(100));
         injected::disarm();
         return expect(r.revision == 2 && r.value == val(100), "update returned a wrong record");
       }},
      {"patch_with_version", records,
       [](CStore& s, const Start& st) {
         const Rec r = s.patch_with_version("key-1", st.versions.at("key-1"), [](Counted& c) {
           c.payload += std::string(64, 'z');  // the mutation allocates too
         });
         injected::disarm();
         return expect(r.revision == 2 && r.value.payload.size() == 104,
                       "patch returned a wrong record");
       }},
      {"soft_delete", records,
       [](CStore& s, const Start& st) {
         const Rec r = s.soft_delete("key-2", st.versions.at("key-2"));
         injected::disarm();
         return expect(r.deleted && r.revision == 2, "soft_delete returned a wrong record");
       }},
      {"restore", with_deleted,
       [](CStore& s, const Start& st) {
         const Rec r = s.restore("key-3", st.versions.at("key-3"));
         injected::disarm();
         return expect(!r.deleted && r.revision == 3, "restore returned a wrong record");
       }},
      {"erase", records,
       [](CStore& s, const Start& st) {
         s.erase("key-2", st.versions.at("key-2"));
         injected::disarm();
         return expect(!s.find("key-2", vkv::ReadOptions{true}), "erase left the record");
       }},
      {"try_erase", with_deleted,
       [](CStore& s, const Start& st) {
         const vkv::Result<Rec> r = s.try_erase("key-3", st.versions.at("key-3"));
         injected::disarm();
         return expect(r.ok() && r.value().value == val(3), "try_erase failed");
       }},
      {"update_with_retry", records,
       [](CStore& s, const Start&) {
         const Rec r = s.update_with_retry("key-1", [](Counted& c) { c.value += 10; });
         injected::disarm();
         return expect(r.value.value == 11 && r.revision == 2, "update_with_retry: wrong record");
       }},
      {"commit", with_deleted,
       [](CStore& s, const Start& st) {
         vkv::Transaction<Counted> tx;
         tx.check("key-0", st.versions.at("key-0"))
             .update("key-1", st.versions.at("key-1"), val(111))
             .soft_delete("key-2", st.versions.at("key-2"))
             .erase("key-3", st.versions.at("key-3"));
         const std::vector<Rec> written = s.commit(tx);
         injected::disarm();
         return expect(written.size() == 4 && written[1].value == val(111),
                       "commit returned wrong records");
       }},
      {"find_many/update_many", nothing,
       [](CStore& s, const Start&) {
         // On an empty store: the reads find nothing and the writes report not_found, but
         // each runs the read path and the write path as the process's first vkv call.
         const std::vector<std::string> ids = {"key-0", "key-1"};
         const auto found = s.find_many(std::span<const std::string>(ids));
         std::vector<CStore::VersionedWrite> writes;
         writes.push_back({"key-0", vkv::Version(), val(1)});
         writes.push_back({"key-1", vkv::Version(), val(2)});
         const auto results = s.update_many(std::span<const CStore::VersionedWrite>(writes));
         injected::disarm();
         return expect(found.size() == 2 && !found[0] && !found[1] && results.size() == 2 &&
                           results[0].error() == vkv::Errc::not_found &&
                           results[1].error() == vkv::Errc::not_found,
                       "find_many/update_many: wrong answers");
       }},
      {"find_many/update_many on records", records,
       [](CStore& s, const Start& st) {
         const std::vector<std::string> ids = {"key-0", "key-1"};
         const auto found = s.find_many(std::span<const std::string>(ids));
         // update_many applies its writes one by one (include/vkv/store.hpp), so a bad_alloc in a
         // later write may follow an earlier success. The one write that succeeds comes last: after
         // its compare-and-swap nothing may fail, so every failure leaves no trace.
         std::vector<CStore::VersionedWrite> writes;
         writes.push_back({"key-1", st.versions.at("key-0"), val(1001)});  // stale: conflict
         writes.push_back({"key-0", st.versions.at("key-0"), val(1000)});
         const auto results = s.update_many(std::span<const CStore::VersionedWrite>(writes));
         injected::disarm();
         return expect(found.size() == 2 && found[0] && found[1] && results.size() == 2 &&
                           results[0].error() == vkv::Errc::conflict && results[1].ok(),
                       "find_many/update_many: wrong answers");
       }},
      {"update_with_version at the first collection", records,
       [](CStore& s, const Start& st) {
         // This write's retirement is the thread's kCollectThreshold-th: it collects,
         // the first collection of the process (epoch scan, frees).
         const Rec r = s.update_with_version("key-0", st.versions.at("key-0"), val(7));
         injected::disarm();
         return expect(r.value == val(7), "update returned a wrong record");
       },
       [](CStore& s, Start& st) {
         Rec r = *s.find("key-0");
         for (std::size_t i = 1; i < vkv::detail::epoch::kCollectThreshold; ++i) {
           r = s.update_with_version("key-0", r.version, val(static_cast<std::int64_t>(i)));
         }
         st.versions["key-0"] = r.version;
       },
       // A collection runs inside noexcept collect(), after the deciding
       // compare-and-swap: it only frees, and this case guards that it allocates
       // nothing (a failed allocation there would be std::terminate).
       nullptr},
  };
}

// Writes a message to stderr and returns kBroken.
int broken(const Case& c, std::int64_t n, const std::string& what) {
  std::fprintf(stderr, "[fresh-process] %s, allocation %lld: %s\n", c.name,
               static_cast<long long>(n), what.c_str());
  std::fflush(stderr);
  return kBroken;
}

// VKV_FRESH_TRACE=1: the child prints the stack of the failing allocation (to find
// which allocation of a write a reported N is).
void print_stack() {
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, 2);
}

// The child: everything after fork(). Never returns to gtest.
int run_child(const Case& c, std::int64_t n) {
  int verdict = kCompleted;
  {
    std::optional<CStore> store;
    Start start;  // with no setup: an empty store (all absent, size and counters 0)
    std::latch ready(1), finish(1);
    std::thread helper;
    if (c.setup) {
      helper = std::thread([&] {
        store.emplace();
        c.setup(*store);
        for (const std::string& id : kIds) {
          if (auto r = store->find(id, vkv::ReadOptions{true})) start.versions[id] = r->version;
        }
        start.snapshot = take_snapshot(*store);
        ready.count_down();
        finish.wait();  // alive until the write is done: the write cannot reuse its record
      });
      ready.wait();
    } else {
      store.emplace();  // the store's constructor, not yet a call into reclamation
      for (const std::string& id : kIds) start.snapshot.records[id] = std::nullopt;
    }
    if (c.warm_up) {
      c.warm_up(*store, start);
      start.snapshot = take_snapshot(*store);
    }

    bool threw = false;
    std::string wrong;
    {
      if (std::getenv("VKV_FRESH_TRACE") != nullptr) injected::before_failure = print_stack;
      injected::FailNthAllocation injector(n);
      try {
        wrong = c.write(*store, start);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
    }
    const bool fired = injected::fired;
    finish.count_down();
    if (helper.joinable()) helper.join();

    if (threw) {
      if (!fired) return broken(c, n, "bad_alloc thrown, but not by the injector");
      const std::string diff = compare(start.snapshot, take_snapshot(*store));
      if (!diff.empty()) return broken(c, n, "the failed write left a trace:" + diff);
      // Nothing is left half-done: the same write now succeeds.
      try {
        wrong = c.write(*store, start);
      } catch (const std::exception& e) {
        return broken(c, n, std::string("the write failed again without injection: ") + e.what());
      }
      if (!wrong.empty()) return broken(c, n, "after the failure: " + wrong);
      verdict = kFailedCleanly;
    } else {
      if (!wrong.empty()) return broken(c, n, wrong);
      verdict = fired ? kSwallowed : kCompleted;
    }
    store.reset();
  }
  // The helper has exited (its garbage stays in its record, which drain() frees).
  if (const std::size_t pending = vkv::detail::epoch::drain(); pending != 0) {
    return broken(c, n, std::to_string(pending) + " objects still pending after drain()");
  }
  if (Counted::live() != 0) {
    return broken(c, n, std::to_string(Counted::live()) + " value instances leaked");
  }
  return verdict;
}

// Walks N = 1, 2, ... over the allocations of one case, a child process per N.
void walk(const Case& c) {
  std::int64_t failed_cleanly = 0, swallowed = 0;
  std::int64_t n = 1;
  for (; n < 2000; ++n) {
    std::fflush(nullptr);  // nothing buffered may be written twice
    const pid_t pid = fork();
    ASSERT_NE(pid, -1) << "fork failed";
    if (pid == 0) {
      const int code = run_child(c, n);
      std::fflush(nullptr);
      _exit(code);  // no atexit handlers, no gtest teardown in the child
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
      ADD_FAILURE() << c.name << ": failing allocation " << n << " killed the process (signal "
                    << WTERMSIG(status) << (WTERMSIG(status) == SIGABRT ? ", std::terminate?" : "")
                    << ")";
      return;
    }
    ASSERT_TRUE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    if (code == kCompleted) break;
    if (code == kFailedCleanly) {
      ++failed_cleanly;
    } else if (code == kSwallowed) {
      ++swallowed;
    } else {
      ADD_FAILURE() << c.name << ": allocation " << n << " broke a check (exit " << code
                    << ", see stderr)";
      return;
    }
  }
  ASSERT_LT(n, 2000) << c.name << ": the write never completed";
  // The injector must really have fired: a walk that never failed anything proves nothing.
  EXPECT_GT(failed_cleanly, 0) << c.name;
  std::printf("[fresh-process] %s: %lld allocations, %lld failed cleanly, %lld handled inside\n",
              c.name, static_cast<long long>(n - 1), static_cast<long long>(failed_cleanly),
              static_cast<long long>(swallowed));
}

class FreshProcess : public ::testing::TestWithParam<std::size_t> {};

TEST_P(FreshProcess, EveryAllocationFailsCleanly) { walk(cases()[GetParam()]); }

std::string case_name(const ::testing::TestParamInfo<std::size_t>& info) {
  std::string name = cases()[info.param].name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

// Every case but those left out on a known bug (see Case::left_out).
std::vector<std::size_t> instantiated() {
  const char* all = std::getenv("VKV_FRESH_PROCESS_ALL");
  std::vector<std::size_t> indices;
  const std::vector<Case> list = cases();
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].left_out == nullptr || (all != nullptr && std::string(all) == "1")) {
      indices.push_back(i);
    }
  }
  return indices;
}

INSTANTIATE_TEST_SUITE_P(WriteKinds, FreshProcess, ::testing::ValuesIn(instantiated()), case_name);

}  // namespace
}  // namespace vkv_test
