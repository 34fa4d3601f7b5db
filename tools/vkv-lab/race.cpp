#include "race.hpp"

#include <barrier>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <vkv/vkv.hpp>

namespace vkv::lab {
namespace {

constexpr std::int64_t kInitialBalance = 10'000;

std::string key_of(int round) { return "cust-" + std::to_string(123 + round); }

Customer initial_customer(int round) {
  return Customer{"Customer " + std::to_string(123 + round), kInitialBalance};
}

// Worker A renames, worker B deposits: two different fields, so a correct store
// keeps both no matter who writes first.
void apply_change(char worker, Customer& customer) {
  if (worker == 'A') {
    customer.name = kRenamedTo;
  } else {
    customer.balance_cents += kDeposit;
  }
}

int lost_updates(const Customer& final_state, const Customer& initial) {
  const int rename_lost = final_state.name != kRenamedTo ? 1 : 0;
  const int deposit_lost = final_state.balance_cents != initial.balance_cents + kDeposit ? 1 : 0;
  return rename_lost + deposit_lost;
}

// A "repository" as many applications write one: a map under a mutex, whose update
// replaces the whole record with what the caller read and changed. Each call is
// atomic, yet the read/modify/write spanning two calls is not.
class PlainMap {
 public:
  void put(const std::string& key, const Customer& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    map_[key] = value;
  }
  Customer get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return map_.at(key);
  }
  // Stores `value` and says whether another write to `key` came before it.
  bool put_counting(const std::string& key, const Customer& value) {
    std::lock_guard<std::mutex> lock(mutex_);
    map_[key] = value;
    return ++writes_[key] > 1;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Customer> map_;
  std::unordered_map<std::string, int> writes_;
};

void run_plain(int rounds, RaceSummary& summary) {
  PlainMap map;
  for (int round = 0; round < rounds; ++round) map.put(key_of(round), initial_customer(round));
  std::barrier rendezvous(2);
  PlainRoundTrace trace;
  trace.initial = initial_customer(0);
  bool a_wrote_second = false;  // round 0; written by worker A only

  auto worker = [&](char who) {
    const int self = who == 'A' ? 0 : 1;
    for (int round = 0; round < rounds; ++round) {
      const std::string key = key_of(round);
      Customer mine = map.get(key);
      if (round == 0) (self == 0 ? trace.read_by_a : trace.read_by_b) = mine;
      // Both have read before either writes: the interleaving of the seed's scenario.
      rendezvous.arrive_and_wait();
      apply_change(who, mine);
      const bool wrote_second = map.put_counting(key, mine);
      if (round == 0) {
        (self == 0 ? trace.written_by_a : trace.written_by_b) = mine;
        if (self == 0) a_wrote_second = wrote_second;
      }
    }
  };
  std::thread a(worker, 'A');
  std::thread b(worker, 'B');
  a.join();
  b.join();

  trace.a_wrote_last = a_wrote_second;
  trace.final_state = map.get(key_of(0));
  summary.plain_first = trace;
  for (int round = 0; round < rounds; ++round) {
    summary.plain_lost_updates += lost_updates(map.get(key_of(round)), initial_customer(round));
  }
}

void run_vkv(int rounds, RaceSummary& summary) {
  vkv::StoreOptions options;
  options.entity_type = "Customer";  // named in the OptimisticLockError the demo shows
  vkv::Store<Customer> store(options);
  std::string first_version;
  for (int round = 0; round < rounds; ++round) {
    auto created = store.create(key_of(round), initial_customer(round));
    if (round == 0) first_version = created.version.to_string();
  }
  std::barrier rendezvous(2);
  VkvRoundTrace trace;
  trace.initial = initial_customer(0);
  trace.initial_version = first_version;
  // Per worker, merged after join: no shared counters between the two threads.
  int conflicts[2] = {0, 0};
  int retries[2] = {0, 0};
  bool first_try_won[2] = {false, false};  // round 0 only
  std::string refusal[2];
  Customer reread[2];
  Customer committed_first_try[2];

  auto worker = [&](char who) {
    const int self = who == 'A' ? 0 : 1;
    for (int round = 0; round < rounds; ++round) {
      const std::string key = key_of(round);
      auto read = *store.find(key);
      if (round == 0) (self == 0 ? trace.read_by_a : trace.read_by_b) = read.value;
      rendezvous.arrive_and_wait();
      Customer mine = read.value;
      apply_change(who, mine);
      try {
        store.update_with_version(key, read.version, mine);
        if (round == 0) {
          first_try_won[self] = true;
          committed_first_try[self] = mine;
        }
      } catch (const vkv::OptimisticLockError& error) {
        ++conflicts[self];
        if (round == 0) refusal[self] = error.what();
        // Retry from the record as it is now: the other worker's change is in it.
        for (bool first_retry = true;; first_retry = false) {
          ++retries[self];
          auto current = *store.find(key);
          if (round == 0 && first_retry) reread[self] = current.value;
          Customer retried = current.value;
          apply_change(who, retried);
          try {
            store.update_with_version(key, current.version, retried);
            break;
          } catch (const vkv::OptimisticLockError&) {
            ++conflicts[self];
          }
        }
      }
    }
  };
  std::thread a(worker, 'A');
  std::thread b(worker, 'B');
  a.join();
  b.join();

  const int loser = first_try_won[0] ? 1 : 0;
  trace.winner = first_try_won[0] ? 'A' : (first_try_won[1] ? 'B' : '?');
  trace.refusal = refusal[loser];
  trace.committed_by_winner = committed_first_try[1 - loser];
  trace.reread_by_loser = reread[loser];
  const auto final_record = *store.find(key_of(0));
  trace.final_state = final_record.value;
  trace.final_revision = final_record.revision;
  summary.vkv_first = trace;
  summary.vkv_conflicts = conflicts[0] + conflicts[1];
  summary.vkv_retries = retries[0] + retries[1];
  for (int round = 0; round < rounds; ++round) {
    summary.vkv_lost_updates +=
        lost_updates(store.find(key_of(round))->value, initial_customer(round));
  }
}

}  // namespace

RaceSummary run_race(int rounds) {
  RaceSummary summary;
  summary.rounds = rounds < 1 ? 1 : rounds;
  run_plain(summary.rounds, summary);
  run_vkv(summary.rounds, summary);
  return summary;
}

}  // namespace vkv::lab
