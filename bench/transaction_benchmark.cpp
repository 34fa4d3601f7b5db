// The atomic multi-record commit:
//  - uncontended: commit of a 2/4/8-entry update transaction against the same writes
//    as 2/4/8 single try_update_with_version calls (what atomicity costs);
//  - contended: transfers between a few accounts at 1/2/4 threads (goodput, conflict
//    rate), against a pessimistic peer in the same binary: a std::mutex per account,
//    both locked in address order. Both sides time every 8th transfer alike and
//    report the latency quantiles lat_p50_ns, lat_p99_ns and lat_p999_ns over all
//    threads' samples.
//
//   build/<dir>/bench/transaction_benchmark --benchmark_out=tx.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>
#include <vkv/vkv.hpp>

namespace {

using Balance = std::int64_t;
using BenchStore = vkv::Store<Balance>;
using Tx = vkv::Transaction<Balance>;

std::string key_of(int i) { return "account" + std::to_string(100000 + i); }

// ---- uncontended: one transaction of k updates vs k single writes ----

struct OwnKeys {
  std::vector<std::string> ids;
  std::vector<vkv::Version> versions;
};

OwnKeys make_keys(BenchStore& store, int count) {
  OwnKeys keys;
  for (int i = 0; i < count; ++i) {
    keys.ids.push_back(key_of(i));
    keys.versions.push_back(store.create(keys.ids.back(), 0).version);
  }
  return keys;
}

// Writes state.range(0) records of a store nobody else touches per iteration with
// `write_all(store, keys, value)`, which carries each record's new version in keys.
template <class WriteAll>
void uncontended(benchmark::State& state, WriteAll write_all) {
  const int entries = static_cast<int>(state.range(0));
  BenchStore store;
  OwnKeys keys = make_keys(store, entries);
  Balance value = 0;
  for (auto _ : state) write_all(store, keys, value);
  state.SetItemsProcessed(state.iterations() * entries);
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * entries), benchmark::Counter::kIsRate);
}

void BM_Commit_Uncontended(benchmark::State& state) {
  uncontended(state, [](BenchStore& store, OwnKeys& keys, Balance& value) {
    Tx tx;
    for (std::size_t i = 0; i < keys.ids.size(); ++i)
      tx.update(keys.ids[i], keys.versions[i], ++value);
    const auto written = store.commit(tx);
    for (std::size_t i = 0; i < keys.ids.size(); ++i) keys.versions[i] = written[i].version;
  });
}

void BM_SingleWrites_Uncontended(benchmark::State& state) {
  uncontended(state, [](BenchStore& store, OwnKeys& keys, Balance& value) {
    for (std::size_t i = 0; i < keys.ids.size(); ++i) {
      keys.versions[i] = store.update_with_version(keys.ids[i], keys.versions[i], ++value).version;
    }
  });
}

BENCHMARK(BM_Commit_Uncontended)->Arg(2)->Arg(4)->Arg(8);
BENCHMARK(BM_SingleWrites_Uncontended)->Arg(2)->Arg(4)->Arg(8);

// ---- contended transfers ----

// Latency of every 8th transfer, per thread, the same for both sides (so the clock
// reads, the timing overhead, are paid equally). Each benchmark thread writes only its
// own vector inside the timed loop; thread 0 merges them after the loop, when Google
// Benchmark's stop barrier has ordered every thread's last write before its reads.
constexpr std::uint64_t kSampleEvery = 8;
std::array<std::vector<std::int64_t>, 64> latency_samples;

template <class F>
void timed_sample(std::uint64_t n, std::vector<std::int64_t>& samples, F&& transfer) {
  if (n % kSampleEvery != 0) {
    transfer();
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  transfer();
  samples.push_back(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
}

// Thread 0, after the loop: the quantiles over every thread's samples, as counters
// (set by thread 0 alone, so Google Benchmark's sum over threads is thread 0's value).
void report_latency(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  std::vector<std::int64_t> all;
  for (int t = 0; t < state.threads(); ++t) {
    const auto& mine = latency_samples[static_cast<std::size_t>(t)];
    all.insert(all.end(), mine.begin(), mine.end());
  }
  if (all.empty()) return;
  std::sort(all.begin(), all.end());
  const auto at = [&](double q) {
    return static_cast<double>(all[std::min(
        all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))]);
  };
  state.counters["lat_p50_ns"] = at(0.50);
  state.counters["lat_p99_ns"] = at(0.99);
  state.counters["lat_p999_ns"] = at(0.999);
}

std::vector<std::int64_t>& my_samples(const benchmark::State& state) {
  auto& mine = latency_samples.at(static_cast<std::size_t>(state.thread_index()));
  mine.clear();
  return mine;
}

constexpr int kAccounts = 8;  // few accounts: transfers collide often
constexpr Balance kInitial = 1'000'000;

std::unique_ptr<BenchStore> transfer_store;  // set up by thread 0 before the start barrier

const std::vector<std::string>& account_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (int i = 0; i < kAccounts; ++i) v.push_back(key_of(i));
    return v;
  }();
  return ids;
}

// Each iteration is one transfer that eventually commits: read both accounts, commit
// the two updates, and on a conflict read again and retry.
void BM_Transfer_Optimistic(benchmark::State& state) {
  if (state.thread_index() == 0) {
    transfer_store = std::make_unique<BenchStore>();
    for (int i = 0; i < kAccounts; ++i) transfer_store->create(key_of(i), kInitial);
  }
  const auto& ids = account_ids();
  std::mt19937_64 rng(7 + static_cast<std::uint64_t>(state.thread_index()));
  std::int64_t conflicts = 0;
  std::vector<std::int64_t>& samples = my_samples(state);
  std::uint64_t n = 0;
  for (auto _ : state) {
    BenchStore& store = *transfer_store;
    const int from = static_cast<int>(rng() % kAccounts);
    const int to = (from + 1 + static_cast<int>(rng() % (kAccounts - 1))) % kAccounts;
    const std::string& from_id = ids[static_cast<std::size_t>(from)];
    const std::string& to_id = ids[static_cast<std::size_t>(to)];
    timed_sample(n++, samples, [&] {
      for (;;) {
        const auto a = store.find(from_id);
        const auto b = store.find(to_id);
        Tx tx;
        tx.update(from_id, a->version, a->value - 1).update(to_id, b->version, b->value + 1);
        if (store.try_commit(tx).ok()) break;
        ++conflicts;
      }
    });
  }
  report_latency(state);
  state.counters["transfers_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["conflicts_per_transfer"] =
      benchmark::Counter(static_cast<double>(conflicts) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.counters["conflict_rate"] = benchmark::Counter(
      static_cast<double>(conflicts) / static_cast<double>(conflicts + state.iterations()),
      benchmark::Counter::kAvgThreads);
  if (state.thread_index() == 0) {
    // Conservation, as a sanity check of what was measured.
    Balance sum = 0;
    for (int i = 0; i < kAccounts; ++i) sum += transfer_store->find(key_of(i))->value;
    if (sum != kInitial * kAccounts) state.SkipWithError("transfers did not conserve the total");
  }
}

// The pessimistic peer: a mutex per account, both locked in address order (no
// deadlock), then the plain balances are moved.
struct alignas(64) LockedAccount {
  std::mutex mutex;
  Balance balance = kInitial;
};
std::unique_ptr<LockedAccount[]> locked_accounts;

void BM_Transfer_MutexPerAccount(benchmark::State& state) {
  if (state.thread_index() == 0) locked_accounts = std::make_unique<LockedAccount[]>(kAccounts);
  std::mt19937_64 rng(7 + static_cast<std::uint64_t>(state.thread_index()));
  std::vector<std::int64_t>& samples = my_samples(state);
  std::uint64_t n = 0;
  for (auto _ : state) {
    const int from = static_cast<int>(rng() % kAccounts);
    const int to = (from + 1 + static_cast<int>(rng() % (kAccounts - 1))) % kAccounts;
    LockedAccount* a = &locked_accounts[static_cast<std::size_t>(from)];
    LockedAccount* b = &locked_accounts[static_cast<std::size_t>(to)];
    LockedAccount* first = a < b ? a : b;
    LockedAccount* second = a < b ? b : a;
    timed_sample(n++, samples, [&] {
      std::lock_guard<std::mutex> first_lock(first->mutex);
      std::lock_guard<std::mutex> second_lock(second->mutex);
      a->balance -= 1;
      b->balance += 1;
    });
  }
  report_latency(state);
  state.counters["transfers_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) {
    Balance sum = 0;
    for (int i = 0; i < kAccounts; ++i) sum += locked_accounts[static_cast<std::size_t>(i)].balance;
    if (sum != kInitial * kAccounts) state.SkipWithError("transfers did not conserve the total");
  }
}

BENCHMARK(BM_Transfer_Optimistic)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(BM_Transfer_MutexPerAccount)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
