// vkv::Store is linearizable per record: random concurrent histories on hot keys are
// checked against the versioned-register model. The same workload against
// deliberately broken wrappers must be rejected, which shows the check can fail.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/uuid/uuid.hpp>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "lin/checker.hpp"
#include "lin/workload.hpp"
#include "support/stress.hpp"

namespace vkv_test::lin {
namespace {

struct RunSummary {
  std::size_t operations = 0;
  std::size_t histories = 0;
  std::size_t states_explored = 0;
  std::size_t non_linearizable = 0;
  std::size_t overlapping = 0;  // operations whose interval overlaps another's
  std::string first_failure;
};

// Checks every per-key history of a recorded run; stops describing after the first.
RunSummary check_run(const std::vector<RawOp>& all, const WorkloadConfig& cfg) {
  RunSummary s;
  for (const std::vector<Operation>& h : per_key_histories(all, cfg)) {
    const CheckResult r = check(h);
    s.operations += h.size();
    ++s.histories;
    s.states_explored += r.states_explored;
    s.overlapping += count_overlapping(h);
    if (!r.linearizable) {
      if (s.non_linearizable++ == 0) s.first_failure = describe(h);
    }
  }
  return s;
}

void expect_linearizable(const WorkloadConfig& cfg, vkv::StoreOptions options = {}) {
  LinStore store(std::move(options));
  const std::vector<RawOp> all = run_workload(store, cfg);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(cfg.rounds * cfg.threads * cfg.ops_per_thread));

  std::size_t successes = 0, conflicts = 0;
  for (const RawOp& op : all) {
    ASSERT_EQ(op.anomaly, nullptr) << op.anomaly << " (round " << op.round << ")";
    successes += op.outcome == Outcome::ok && op.kind != OpKind::find;
    conflicts += op.outcome == Outcome::conflict;
  }
  // Versions are compared run-wide: the store never issues one twice, on any key.
  std::vector<Operation> writes;
  for (const std::vector<Operation>& h : per_key_histories(all, cfg)) {
    writes.insert(writes.end(), h.begin(), h.end());
  }
  EXPECT_EQ(repeated_write_version(writes), std::nullopt);

  const RunSummary s = check_run(all, cfg);
  EXPECT_EQ(s.non_linearizable, 0u) << "first non-linearizable history:\n" << s.first_failure;
  EXPECT_EQ(s.operations, all.size());
  // The workload must exercise both outcomes, or the check is vacuous.
  EXPECT_GT(successes, all.size() / 10);
  EXPECT_GT(conflicts, 0u);
  EXPECT_GT(s.overlapping, all.size() / 100) << "hardly any operations overlapped";
  std::cout << "[lin] checked " << s.operations << " operations in " << s.histories
            << " per-key histories (" << successes << " successful writes, " << conflicts
            << " conflicts, " << s.overlapping << " overlapping another, " << s.states_explored
            << " search steps)\n";
}

TEST(LinStore, TwoHotKeysFourThreads) {
  WorkloadConfig cfg;
  cfg.threads = 4;
  cfg.ops_per_thread = 8;
  cfg.keys = 2;
  cfg.rounds = static_cast<int>(scaled(3200, 32));  // 102,400 operations unscaled
  cfg.seed = 20261127;
  expect_linearizable(cfg);
}

TEST(LinStore, OneHotKeySixThreads) {
  WorkloadConfig cfg;
  cfg.threads = 6;
  cfg.ops_per_thread = 6;
  cfg.keys = 1;
  cfg.rounds = static_cast<int>(scaled(600, 32));  // 21,600 operations unscaled
  cfg.seed = 99;
  expect_linearizable(cfg);
}

// The cache layer's paths (use stamps, expiry stamps, active expiry, the bound's count)
// switched on but never firing (a bound far above the keys, a TTL far beyond the run):
// the core register model must hold unchanged. Eviction and expiry themselves are
// checked against a model where records may vanish: tests/cache/cache_lin_test.cpp.
TEST(LinStore, TwoHotKeysFourThreadsWithCacheOptions) {
  WorkloadConfig cfg;
  cfg.threads = 4;
  cfg.ops_per_thread = 8;
  cfg.keys = 2;
  cfg.rounds = static_cast<int>(scaled(800, 32));
  cfg.seed = 20261130;
  vkv::StoreOptions options;
  options.max_records = 1'000'000;
  options.default_ttl = std::chrono::hours(1);
  expect_linearizable(cfg, std::move(options));
}

// ---------------------------------------------------------------------------------
// Deliberately broken stores: the real store behind a wrapper that injects one bug
// into the throwing calls (the try_* calls pass straight through).

enum class Fault {
  lost_write,       // update reports success without writing
  unchecked_write,  // update retries with the fresh version: two winners from one version
  stale_read,       // find sometimes returns the previous find's answer
  swapped_fields,   // find sometimes swaps the value's two fields
};

class BrokenStore {
 public:
  using record_type = LinStore::record_type;
  explicit BrokenStore(Fault fault) : fault_(fault) {}

  record_type create(std::string id, Value v) { return inner_.create(std::move(id), v); }
  auto try_create(std::string id, Value v) { return inner_.try_create(std::move(id), v); }

  std::optional<record_type> find(const std::string& id, vkv::ReadOptions o = {}) const {
    // relaxed: only spreads the fault over calls; no data depends on it.
    const std::uint64_t n = calls_.fetch_add(1, std::memory_order_relaxed);
    std::optional<record_type> r = inner_.find(id, o);
    if (fault_ == Fault::swapped_fields && r && n % 3 == 0) std::swap(r->value.a, r->value.b);
    if (fault_ == Fault::stale_read) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto [it, fresh] = last_find_.try_emplace(id, r);
      if (!fresh && n % 2 == 1) return it->second;
      it->second = r;
    }
    return r;
  }

  // visit() answers through the broken find(), so both reads carry the fault.
  template <class F>
  bool visit(const std::string& id, F&& f, vkv::ReadOptions o = {}) const {
    const std::optional<record_type> r = find(id, o);
    if (!r) return false;
    f(vkv::RecordView<Value, std::string>{r->id, r->value, r->version, r->revision, r->deleted,
                                          std::nullopt});
    return true;
  }

  record_type update_with_version(const std::string& id, const vkv::Version& expected, Value v,
                                  vkv::WriteOptions o = {}) {
    const std::optional<record_type> cur = inner_.find(id, vkv::ReadOptions{true});
    const bool would_win =
        cur && cur->version == expected && (!cur->deleted || o.include_soft_deleted);
    if (fault_ == Fault::lost_write && would_win &&
        calls_.fetch_add(1, std::memory_order_relaxed) % 3 == 0) {
      return record_type{id, v, made_up_version(), cur->revision + 1, cur->deleted, {}};
    }
    if (fault_ == Fault::unchecked_write && would_win) {
      // Widen the window between the check and the write; a real bug would not yield,
      // but on two cores the race would otherwise be rare.
      std::this_thread::yield();
      vkv::Version latest = expected;
      for (;;) {
        auto r = inner_.try_update_with_version(id, latest, v, o);
        if (r.ok()) return r.value();
        if (r.error() != vkv::Errc::conflict || !r.current()) break;
        latest = r.current()->version;
      }
    }
    return inner_.update_with_version(id, expected, v, o);
  }
  auto try_update_with_version(const std::string& id, const vkv::Version& e, Value v,
                               vkv::WriteOptions o = {}) {
    return inner_.try_update_with_version(id, e, v, o);
  }
  template <class M>
  record_type patch_with_version(const std::string& id, const vkv::Version& e, M&& m,
                                 vkv::WriteOptions o = {}) {
    return inner_.patch_with_version(id, e, std::forward<M>(m), o);
  }
  template <class M>
  auto try_patch_with_version(const std::string& id, const vkv::Version& e, M&& m,
                              vkv::WriteOptions o = {}) {
    return inner_.try_patch_with_version(id, e, std::forward<M>(m), o);
  }
  record_type soft_delete(const std::string& id, const vkv::Version& e) {
    return inner_.soft_delete(id, e);
  }
  auto try_soft_delete(const std::string& id, const vkv::Version& e) {
    return inner_.try_soft_delete(id, e);
  }
  record_type restore(const std::string& id, const vkv::Version& e) {
    return inner_.restore(id, e);
  }
  auto try_restore(const std::string& id, const vkv::Version& e) {
    return inner_.try_restore(id, e);
  }
  void erase(const std::string& id, const vkv::Version& e) { inner_.erase(id, e); }
  auto try_erase(const std::string& id, const vkv::Version& e) { return inner_.try_erase(id, e); }

 private:
  vkv::Version made_up_version() {
    boost::uuids::uuid u{};
    const std::uint64_t n = made_up_.fetch_add(1, std::memory_order_relaxed) + 1;
    for (int i = 0; i < 8; ++i) u.data[i] = static_cast<std::uint8_t>(n >> (8 * i));
    // Byte 6 is 0: UUID version nibble 0, never one of the store's version-4 UUIDs.
    return vkv::Version(u);
  }

  Fault fault_;
  LinStore inner_;
  mutable std::atomic<std::uint64_t> calls_{0};
  std::atomic<std::uint64_t> made_up_{0};
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::optional<record_type>> last_find_;
};

class LinBrokenStore : public ::testing::TestWithParam<Fault> {};

TEST_P(LinBrokenStore, CheckerRejectsTheWorkload) {
  WorkloadConfig cfg;
  cfg.threads = 4;
  cfg.ops_per_thread = 8;
  cfg.keys = 2;
  cfg.rounds = 25;
  // Rounds of the same workload until the checker objects; every fault here shows up
  // within a few rounds, the cap only bounds a failing run.
  RunSummary total;
  for (int batch = 0; batch < 40 && total.non_linearizable == 0; ++batch) {
    cfg.seed = 1000 + static_cast<std::uint64_t>(batch);
    BrokenStore store(GetParam());  // fresh, so every key starts absent as the model does
    const RunSummary s = check_run(run_workload(store, cfg), cfg);
    total.operations += s.operations;
    total.non_linearizable += s.non_linearizable;
    if (total.first_failure.empty()) total.first_failure = s.first_failure;
  }
  EXPECT_GT(total.non_linearizable, 0u)
      << "the checker accepted " << total.operations << " operations of a broken store";
  std::cout << "[lin] broken store rejected after " << total.operations
            << " operations; first rejected history:\n"
            << total.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Faults, LinBrokenStore,
                         ::testing::Values(Fault::lost_write, Fault::unchecked_write,
                                           Fault::stale_read, Fault::swapped_fields),
                         [](const ::testing::TestParamInfo<Fault>& info) {
                           switch (info.param) {
                             case Fault::lost_write:
                               return "lost_write";
                             case Fault::unchecked_write:
                               return "unchecked_write";
                             case Fault::stale_read:
                               return "stale_read";
                             case Fault::swapped_fields:
                               return "swapped_fields";
                           }
                           return "unknown";
                         });

}  // namespace
}  // namespace vkv_test::lin
