// A real slot migration (CLUSTER SETSLOT ... IMPORTING / MIGRATING, MIGRATE key by key,
// SETSLOT ... NODE) of the hash slot a set of records lives in, there and back, while
// writer threads create, update, erase and commit [update a, erase b, update c] on them.
//
// Each thread owns its keys, so it knows what each must hold. Every reported outcome is
// checked against the servers: a write reported not applied (unavailable) is read back at
// once and must have changed nothing; an unknown outcome is resolved by a read, which must
// find the write wholly applied or wholly not (a commit half-applied is counted); at the
// end every key must hold what its owner knows. Targets: 0 writes reported
// unavailable that applied, 0 half-applied commits, 0 anomalies. Counts are printed
// ("migration counts:"). Before the scripts stopped naming keys they had just deleted,
// an erase on the source node of a MIGRATING slot ran its HDEL, then failed on EXISTS
// ("Script attempted to access a non local key"), and was reported unavailable.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "redis/backends.hpp"
#include "support/redis/admin.hpp"
#include "support/redis/poll.hpp"

namespace vkv_test::redis {
namespace {

using StoreT = vkv::redis::Store<std::string>;

struct Counts {
  // relaxed everywhere: event counters read after join().
  std::atomic<std::uint64_t> ok{0}, unavailable{0}, unknown{0}, erases{0}, commits{0};
  std::atomic<std::uint64_t> applied_but_unavailable{0}, half_applied{0}, anomalies{0};
};

struct Known {
  std::string id;
  std::optional<vkv::Version> version;  // nullopt: absent
};

class Writer {
 public:
  Writer(StoreT& store, Counts& counts, std::vector<std::string> ids, unsigned seed)
      : store_(store), counts_(counts), rng_(seed) {
    for (auto& id : ids) keys_.push_back(Known{std::move(id), std::nullopt});
  }

  void run(const std::atomic<bool>& stop) {
    // acquire: pairs with the driver's release store; nothing else rides on it.
    while (!stop.load(std::memory_order_acquire)) step();
  }

  void verify_final() {
    for (Known& k : keys_) {
      if (read(k.id) != k.version) counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  std::optional<vkv::Version> read(const std::string& id) {
    for (int attempt = 0;; ++attempt) {
      try {
        const auto rec = store_.find(id, vkv::ReadOptions{.include_soft_deleted = true});
        return rec ? std::optional<vkv::Version>(rec->version) : std::nullopt;
      } catch (const vkv::UnavailableError&) {
        if (attempt > 200) throw;
      }
    }
  }

  void step() {
    const std::string value = "v" + std::to_string(++seq_) + std::string(40, 'x');
    Known& a = keys_[rng_() % keys_.size()];
    if (!a.version) return single(a, store_.try_create(a.id, value), false);
    const unsigned dice = rng_() % 10;
    if (dice < 4) return single(a, store_.try_update_with_version(a.id, *a.version, value), false);
    if (dice < 7) {
      counts_.erases.fetch_add(1, std::memory_order_relaxed);
      return single(a, store_.try_erase(a.id, *a.version), true);
    }
    // A commit over three present keys: update a, erase b, update c.
    std::vector<Known*> present;
    for (Known& k : keys_) {
      if (k.version) present.push_back(&k);
    }
    if (present.size() < 3) return;
    std::shuffle(present.begin(), present.end(), rng_);
    Known& x = *present[0];
    Known& y = *present[1];
    Known& z = *present[2];
    counts_.commits.fetch_add(1, std::memory_order_relaxed);
    vkv::Transaction<std::string> tx;
    tx.update(x.id, *x.version, value).erase(y.id, *y.version).update(z.id, *z.version, value);
    const auto r = store_.try_commit(tx);
    if (r.ok()) {
      counts_.ok.fetch_add(1, std::memory_order_relaxed);
      x.version = r.value()[0].version;
      y.version.reset();
      z.version = r.value()[2].version;
      return;
    }
    const auto vx = read(x.id), vy = read(y.id), vz = read(z.id);
    const bool none = vx == x.version && vy == y.version && vz == z.version;
    const bool all = vx && vx != x.version && !vy && vz && vz != z.version;
    if (r.error() == vkv::Errc::unavailable) {
      counts_.unavailable.fetch_add(1, std::memory_order_relaxed);
      if (!none) counts_.applied_but_unavailable.fetch_add(1, std::memory_order_relaxed);
    } else if (r.error() == vkv::Errc::unknown_outcome) {
      counts_.unknown.fetch_add(1, std::memory_order_relaxed);
    } else {
      counts_.anomalies.fetch_add(1, std::memory_order_relaxed);  // sole owner: no conflict
    }
    if (!none && !all) counts_.half_applied.fetch_add(1, std::memory_order_relaxed);
    x.version = vx;
    y.version = vy;
    z.version = vz;
  }

  void single(Known& k, const vkv::Result<StoreT::record_type>& r, bool erase) {
    if (r.ok()) {
      counts_.ok.fetch_add(1, std::memory_order_relaxed);
      k.version = erase ? std::nullopt : std::optional<vkv::Version>(r.value().version);
      return;
    }
    const auto now = read(k.id);
    if (r.error() == vkv::Errc::unavailable) {
      counts_.unavailable.fetch_add(1, std::memory_order_relaxed);
      if (now != k.version) counts_.applied_but_unavailable.fetch_add(1, std::memory_order_relaxed);
    } else if (r.error() == vkv::Errc::unknown_outcome) {
      counts_.unknown.fetch_add(1, std::memory_order_relaxed);
    } else {
      counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
    }
    k.version = now;  // adopt what is there (the only writer: it is this write or not)
  }

  StoreT& store_;
  Counts& counts_;
  std::mt19937 rng_;
  std::vector<Known> keys_;
  std::uint64_t seq_ = 0;
};

std::string node_id(RedisCluster& cluster, int port) {
  for (const ClusterNode& node : cluster.topology()) {
    if (node.port == port) return node.id;
  }
  throw std::runtime_error("no node on port " + std::to_string(port));
}

// Moves `slot` from the master on `from` to the one on `to`, one key per MIGRATE, as
// redis-cli --cluster reshard does; returns the keys moved.
int migrate_slot(RedisCluster& cluster, int slot, int from, int to) {
  const std::string from_id = node_id(cluster, from);
  const std::string to_id = node_id(cluster, to);
  const std::string s = std::to_string(slot);
  Admin source("127.0.0.1", from);
  Admin target("127.0.0.1", to);
  target.checked({"CLUSTER", "SETSLOT", s, "IMPORTING", from_id});
  source.checked({"CLUSTER", "SETSLOT", s, "MIGRATING", to_id});
  int moved = 0;
  for (;;) {
    const Reply keys = source.checked({"CLUSTER", "GETKEYSINSLOT", s, "1"});
    if (keys.elements.empty()) break;
    // A key the writers erased meanwhile is gone: MIGRATE answers NOKEY, fine.
    source.command(
        {"MIGRATE", "127.0.0.1", std::to_string(to), keys.elements[0].text, "0", "5000"});
    ++moved;
  }
  target.checked({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  source.checked({"CLUSTER", "SETSLOT", s, "NODE", to_id});
  for (const ClusterNode& node : cluster.topology()) {
    if (node.master && node.port != from && node.port != to && !node.failed) {
      Admin("127.0.0.1", node.port).command({"CLUSTER", "SETSLOT", s, "NODE", to_id});
    }
  }
  return moved;
}

TEST(RedisMigration, EraseAndCommitDuringASlotMigrationAreNeverMisreported) {
  RedisCluster& cluster = shared_cluster();
  const std::string entity = unique_entity("Migrate");
  vkv::redis::Options o = cluster_options(StoreSpec{entity, {}, 8});
  o.connect_timeout = std::chrono::milliseconds(500);
  o.command_timeout = std::chrono::milliseconds(1000);
  o.call_timeout = std::chrono::milliseconds(5000);
  StoreT store(o);
  constexpr int kThreads = 3;
  constexpr int kKeys = 6;
  const int slot = cluster.key_slot("{mig}");  // every id carries the tag {mig}
  const int home = cluster.master_port_of_slot(slot);
  int away = home;
  for (const ClusterNode& node : cluster.topology()) {
    if (node.master && !node.failed && node.port != home) away = node.port;
  }
  ASSERT_NE(away, home);

  Counts counts;
  std::vector<std::unique_ptr<Writer>> writers;
  for (int t = 0; t < kThreads; ++t) {
    std::vector<std::string> ids;
    for (int k = 0; k < kKeys; ++k) {
      // 36-character ids with the tag: one hash slot for every key.
      ids.push_back("{mig}" + std::to_string(t) + "-" + std::to_string(k) +
                    "-7f3c2a10-4d5e-4b6a-9c8d");
    }
    writers.push_back(std::make_unique<Writer>(store, counts, ids, 1234u + t));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& w : writers) threads.emplace_back([&w, &stop] { w->run(stop); });
  const auto progressed = [&](std::uint64_t more) {
    const std::uint64_t from = counts.ok.load(std::memory_order_relaxed);
    return poll_until(std::chrono::seconds(60),
                      [&] { return counts.ok.load(std::memory_order_relaxed) >= from + more; });
  };
  EXPECT_TRUE(progressed(100));
  int moved = 0;
  for (int round = 0; round < 2; ++round) {
    moved += migrate_slot(cluster, slot, home, away);
    EXPECT_TRUE(progressed(50));
    moved += migrate_slot(cluster, slot, away, home);
    EXPECT_TRUE(progressed(50));
  }
  stop.store(true, std::memory_order_release);  // release: pairs with run()'s acquire
  for (auto& th : threads) th.join();
  for (auto& w : writers) w->verify_final();
  std::printf(
      "migration counts: %d keys migrated; ok %llu, unavailable %llu, unknown %llu (erases "
      "%llu, commits %llu); applied but reported unavailable %llu, half-applied %llu, "
      "anomalies %llu\n",
      moved, static_cast<unsigned long long>(counts.ok.load()),
      static_cast<unsigned long long>(counts.unavailable.load()),
      static_cast<unsigned long long>(counts.unknown.load()),
      static_cast<unsigned long long>(counts.erases.load()),
      static_cast<unsigned long long>(counts.commits.load()),
      static_cast<unsigned long long>(counts.applied_but_unavailable.load()),
      static_cast<unsigned long long>(counts.half_applied.load()),
      static_cast<unsigned long long>(counts.anomalies.load()));
  std::fflush(stdout);
  EXPECT_GT(moved, 0);
  EXPECT_GT(counts.erases.load(), 0u);
  EXPECT_GT(counts.commits.load(), 0u);
  EXPECT_EQ(counts.applied_but_unavailable.load(), 0u);
  EXPECT_EQ(counts.half_applied.load(), 0u);
  EXPECT_EQ(counts.anomalies.load(), 0u);
}

}  // namespace
}  // namespace vkv_test::redis
