// Batches versus loops: find_many(64 ids) against 64 calls of find, and
// update_many(64 writes) against 64 calls of try_update_with_version, on a store of
// 100k keys; plus the cost of the epoch Guard alone, which bounds what hoisting the
// Guard out of a loop can save.
//
//   build/<dir>/bench/batch_benchmark --benchmark_out=batch.json --benchmark_out_format=json
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

namespace {

struct Payload {
  std::int64_t a = 0;
  std::int64_t b = 0;
};

using BenchStore = vkv::Store<Payload>;

constexpr int kKeys = 100'000;
constexpr int kBatch = 64;

std::string key_of(int i) { return "user" + std::to_string(1'000'000 + i); }

// One store for the whole binary (built on first use), so every benchmark reads the
// same 100k keys.
BenchStore& shared_store() {
  static BenchStore* store = [] {
    auto* s = new BenchStore();
    for (int i = 0; i < kKeys; ++i) s->create(key_of(i), Payload{i, i});
    return s;
  }();
  return *store;
}

// Batches of random ids (fixed seed per thread): kRounds batches, cycled through.
std::vector<std::vector<std::string>> make_batches(std::uint64_t seed) {
  constexpr int kRounds = 256;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(0, kKeys - 1);
  std::vector<std::vector<std::string>> batches(kRounds);
  for (auto& batch : batches) {
    for (int i = 0; i < kBatch; ++i) batch.push_back(key_of(pick(rng)));
  }
  return batches;
}

// Looks up one batch of kBatch random ids per iteration with `find` (the ids in, one
// answer per id out).
template <class FindAll>
void find_batches(benchmark::State& state, FindAll find) {
  BenchStore& store = shared_store();
  const auto batches = make_batches(42 + static_cast<std::uint64_t>(state.thread_index()));
  std::size_t round = 0;
  std::int64_t found = 0;
  for (auto _ : state) {
    const auto answers = find(store, batches[round++ % batches.size()]);
    found += static_cast<std::int64_t>(answers.size());
    benchmark::DoNotOptimize(answers.data());
  }
  state.SetItemsProcessed(found);
  state.counters["keys_per_s"] =
      benchmark::Counter(static_cast<double>(found), benchmark::Counter::kIsRate);
}

void BM_FindMany_Batch64(benchmark::State& state) {
  find_batches(state, [](BenchStore& store, const std::vector<std::string>& batch) {
    return store.find_many(batch);
  });
}

void BM_Find_Loop64(benchmark::State& state) {
  find_batches(state, [](BenchStore& store, const std::vector<std::string>& batch) {
    std::vector<std::optional<BenchStore::record_type>> answers;
    answers.reserve(batch.size());
    for (const auto& id : batch) answers.push_back(store.find(id));
    return answers;
  });
}

// Writers each own a disjoint slice of keys (thread t: keys with i % threads == t), so
// every write succeeds and the figure is the cost of the path, not of conflicts.
struct WriterKeys {
  std::vector<std::string> ids;
  std::vector<vkv::Version> versions;
};

WriterKeys writer_keys(BenchStore& store, int thread, int threads) {
  WriterKeys keys;
  for (int i = thread; i < kKeys && static_cast<int>(keys.ids.size()) < 4096; i += threads) {
    keys.ids.push_back(key_of(i));
    keys.versions.push_back(store.find(keys.ids.back())->version);
  }
  return keys;
}

// Writes kBatch of the thread's own keys per iteration with `write` (the writes in, one
// Result per write out, in order) and carries each new version to that key's next write.
template <class WriteAll>
void write_batches(benchmark::State& state, WriteAll write) {
  BenchStore& store = shared_store();
  WriterKeys keys = writer_keys(store, state.thread_index(), state.threads());
  std::vector<BenchStore::VersionedWrite> writes(kBatch);
  std::size_t next = 0;
  std::int64_t written = 0;
  for (auto _ : state) {
    const std::size_t first = next;
    for (int i = 0; i < kBatch; ++i) {
      const std::size_t k = (first + static_cast<std::size_t>(i)) % keys.ids.size();
      writes[static_cast<std::size_t>(i)] = {keys.ids[k], keys.versions[k], Payload{written, i}};
    }
    const auto results = write(store, writes);
    for (int i = 0; i < kBatch; ++i) {
      const std::size_t k = (first + static_cast<std::size_t>(i)) % keys.ids.size();
      if (!results[static_cast<std::size_t>(i)].ok()) {
        state.SkipWithError("a write of a thread's own key failed");
        return;
      }
      keys.versions[k] = results[static_cast<std::size_t>(i)].value().version;
    }
    next = (first + kBatch) % keys.ids.size();
    written += kBatch;
  }
  state.SetItemsProcessed(written);
  state.counters["writes_per_s"] =
      benchmark::Counter(static_cast<double>(written), benchmark::Counter::kIsRate);
}

void BM_UpdateMany_Batch64(benchmark::State& state) {
  write_batches(state,
                [](BenchStore& store, const std::vector<BenchStore::VersionedWrite>& writes) {
                  return store.update_many(writes);
                });
}

void BM_Update_Loop64(benchmark::State& state) {
  // What update_many does for the caller, spelled out: one Result per write, in order.
  write_batches(state,
                [](BenchStore& store, const std::vector<BenchStore::VersionedWrite>& writes) {
                  std::vector<vkv::Result<BenchStore::record_type>> results;
                  results.reserve(writes.size());
                  for (const auto& w : writes) {
                    results.push_back(store.try_update_with_version(w.id, w.expected, w.value));
                  }
                  return results;
                });
}

// 64 Guard entries and exits: the most that one Guard per batch can save per batch.
void BM_Guard_Loop64(benchmark::State& state) {
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      vkv::detail::epoch::Guard guard;
      benchmark::ClobberMemory();
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

BENCHMARK(BM_FindMany_Batch64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Find_Loop64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_UpdateMany_Batch64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Update_Loop64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_Guard_Loop64)->Threads(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
