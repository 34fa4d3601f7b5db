// Writer threads for the fault tests (tests/redis/fault_test.cpp): each thread owns a few
// keys and writes them one version-checked write at a time, so it always knows which
// version each of its keys must be at. It records every outcome, resolves each unknown
// outcome by a later read, and detects lost acknowledged writes (a later conflict, or the
// final read, finds an older acknowledged version) and anomalies (a write reported not
// applied that applied, a version nobody acknowledged) (tests only).
//
// Thread safety: start() and stop() from one thread; the counters are atomics read by
// that thread while the writers run.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <vkv/redis.hpp>

namespace vkv_test::redis {

struct FaultCounts {
  // relaxed everywhere: plain event counters, read after join() (which orders them) or
  // as progress hints by the polling thread.
  std::atomic<std::uint64_t> committed{0};          // acknowledged (ok)
  std::atomic<std::uint64_t> unavailable{0};        // reported not applied (or not reached)
  std::atomic<std::uint64_t> unknown{0};            // reported unknown_outcome
  std::atomic<std::uint64_t> unknown_committed{0};  // ... a later read found it applied
  std::atomic<std::uint64_t> unknown_not_applied{0};
  std::atomic<std::uint64_t> unresolved{0};  // no later read could decide (must stay 0)
  std::atomic<std::uint64_t> lost{0};        // acknowledged writes missing afterwards
  // Writes reported unknown_outcome, then found applied by a read (so adopted), and
  // missing afterwards: not acknowledged, so no loss under the contract, but counted
  // (with Options::wait_replicas, a write WAIT could not confirm ends up here).
  std::atomic<std::uint64_t> lost_unknown{0};
  std::atomic<std::uint64_t> anomalies{0};  // contract violations other than loss
  std::atomic<std::uint64_t> conflicts{0};
};

class FaultWriters {
 public:
  using StoreT = vkv::redis::Store<std::string>;

  // keys[t]: the ids thread t owns (created here, before the threads start).
  FaultWriters(StoreT& store, std::vector<std::vector<std::string>> keys)
      : store_(store), in_flight_(keys.size()) {
    for (auto& ids : keys) {
      std::vector<KeyState> states;
      for (auto& id : ids) {
        const auto r = store_.create(id, id + "#0");
        states.push_back(KeyState{id, r.version, r.revision, {r.version}, {true}});
      }
      keys_.push_back(std::move(states));
    }
  }
  ~FaultWriters() { stop(); }

  void start() {
    for (std::size_t t = 0; t < keys_.size(); ++t) threads_.emplace_back([this, t] { run(t); });
  }
  void stop() {
    // release: pairs with the writers' acquire load, nothing else is published.
    stop_.store(true, std::memory_order_release);
    for (auto& th : threads_) th.join();
    threads_.clear();
  }
  // Writes in flight right now (each thread has at most one).
  int in_flight() const {
    int n = 0;
    // acquire: pairs with the writer's release store around its call; a snapshot.
    for (const auto& f : in_flight_) n += f.value.load(std::memory_order_acquire) ? 1 : 0;
    return n;
  }
  const FaultCounts& counts() const { return counts_; }

  // After stop(), once the servers are back: every key must be at the last version its
  // owner knows. Counts lost acknowledged writes and anomalies.
  void verify_final_state() {
    for (auto& states : keys_) {
      for (auto& ks : states) {
        const auto rec = read_until_reached(ks.id);
        if (!rec) {
          counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        settle(ks, rec->version);
      }
    }
  }

  std::string summary() const {
    std::ostringstream os;
    os << "committed " << counts_.committed << ", not applied (unavailable) " << counts_.unavailable
       << ", unknown " << counts_.unknown << " (resolved committed " << counts_.unknown_committed
       << ", not applied " << counts_.unknown_not_applied << ", unresolved " << counts_.unresolved
       << "), conflicts " << counts_.conflicts << ", lost " << counts_.lost
       << " (+ resolved-unknown lost " << counts_.lost_unknown << "), anomalies "
       << counts_.anomalies;
    return os.str();
  }

 private:
  struct KeyState {
    std::string id;
    vkv::Version known;
    std::uint64_t revision = 0;
    // Every version this thread adopted, in order: acknowledged ones, and unknown
    // outcomes a read found applied (confirmed[i] false).
    std::vector<vkv::Version> acked;
    std::vector<bool> confirmed;
    void adopt(const vkv::Version& version, bool ok) {
      known = version;
      acked.push_back(version);
      confirmed.push_back(ok);
    }
  };
  struct alignas(64) Flag {
    std::atomic<bool> value{false};
  };

  std::optional<StoreT::record_type> read_until_reached(const std::string& id) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      try {
        return store_.find(id, vkv::ReadOptions{.include_soft_deleted = true});
      } catch (const vkv::UnavailableError&) {
        if (std::chrono::steady_clock::now() > deadline) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // server down: back off
      }
    }
  }

  // The key is found at `actual`: adopt it. An older acknowledged version means the
  // acknowledged writes after it were lost; a version never acknowledged is an anomaly.
  void settle(KeyState& ks, const vkv::Version& actual) {
    if (actual == ks.known) return;
    for (std::size_t i = ks.acked.size(); i-- > 0;) {
      if (ks.acked[i] == actual) {
        for (std::size_t k = i + 1; k < ks.acked.size(); ++k) {
          (ks.confirmed[k] ? counts_.lost : counts_.lost_unknown)
              .fetch_add(1, std::memory_order_relaxed);
        }
        ks.acked.resize(i + 1);
        ks.confirmed.resize(i + 1);
        ks.known = actual;
        return;
      }
    }
    counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
    ks.adopt(actual, false);
  }

  void resolve_unknown(KeyState& ks, const std::string& value) {
    std::optional<StoreT::record_type> rec;
    try {
      rec = read_until_reached(ks.id);
    } catch (const vkv::UnavailableError&) {
      counts_.unresolved.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (rec && rec->version == ks.known) {
      counts_.unknown_not_applied.fetch_add(1, std::memory_order_relaxed);
    } else if (rec && rec->value == value && rec->revision == ks.revision + 1) {
      counts_.unknown_committed.fetch_add(1, std::memory_order_relaxed);
      ks.adopt(rec->version, false);
      ks.revision = rec->revision;
    } else if (rec) {
      settle(ks, rec->version);
      ks.revision = rec->revision;
    } else {
      counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void run(std::size_t t) {
    auto& states = keys_[t];
    std::uint64_t seq = 0;
    // acquire: pairs with stop()'s release store.
    while (!stop_.load(std::memory_order_acquire)) {
      KeyState& ks = states[seq % states.size()];
      const std::string value = ks.id + "#" + std::to_string(++seq);
      // release: the polling thread counts in-flight writes; a snapshot, no data rides on it.
      in_flight_[t].value.store(true, std::memory_order_release);
      auto r = store_.try_update_with_version(ks.id, ks.known, value);
      in_flight_[t].value.store(false, std::memory_order_release);
      if (r.ok()) {
        counts_.committed.fetch_add(1, std::memory_order_relaxed);
        ks.adopt(r.value().version, true);
        ks.revision = r.value().revision;
        continue;
      }
      switch (r.error()) {
        case vkv::Errc::unavailable:
          counts_.unavailable.fetch_add(1, std::memory_order_relaxed);
          std::this_thread::sleep_for(std::chrono::milliseconds(2));  // server down: back off
          break;
        case vkv::Errc::unknown_outcome:
          counts_.unknown.fetch_add(1, std::memory_order_relaxed);
          resolve_unknown(ks, value);
          break;
        case vkv::Errc::conflict:
          // Only a lost acknowledged write (or a phantom) can make an owner conflict.
          counts_.conflicts.fetch_add(1, std::memory_order_relaxed);
          if (r.current()) {
            settle(ks, r.current()->version);
            ks.revision = r.current()->revision;
          } else {
            counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
          }
          break;
        default:
          counts_.anomalies.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }

  StoreT& store_;
  std::vector<std::vector<KeyState>> keys_;
  std::vector<Flag> in_flight_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  FaultCounts counts_;
};

}  // namespace vkv_test::redis
