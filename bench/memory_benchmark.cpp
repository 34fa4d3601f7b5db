// Memory: bytes per record for vkv and each peer, and vkv's retired-node memory
// under an update storm.
//
// Bytes per record (BM_<Unit>_BytesPerRecord/<records>), two figures:
//   heap_bytes_per_record: the growth of malloc's in-use bytes, mallinfo2()'s
//     uordblks (small chunks) + hblkhd (mmap'd chunks, where big bucket arrays go),
//     across building the structure from keys made beforehand, divided by the record
//     count. It counts what the structure asked malloc for, with malloc's per-chunk
//     overhead and rounding (glibc: 8-byte header, 16-byte granularity), and none of
//     the keys vector the benchmark itself holds.
//   rss_bytes_per_record: the growth of the resident set (/proc/self/statm) across
//     the same build. Meaningful in a fresh process only, because memory freed by an
//     earlier benchmark is reused without growing the RSS; tools/run-benchmarks.sh
//     runs each of these benchmarks in its own process.
// The structure is built single-threaded with no size hint (vkv has none), so
// the peers' figures include their growth slack as vkv's does.
//
// Retired memory (BM_Vkv_RetiredUnderUpdateStorm, BM_Vkv_RetiredUnderSharedStorm):
// every thread updates a few keys as fast as it can (its own 4 keys, or 4 keys all
// threads share), and samples detail::epoch::pending_bytes() every 64 operations.
// Reported: the peak and the mean of the samples (bytes retired and not yet freed),
// which epoch reclamation bounds by about threads x kCollectThreshold nodes. The
// peers update in place and have no such memory.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "peers/chm_peer.hpp"
#include "peers/common.hpp"
#include "peers/cuckoo_peer.hpp"
#include "peers/mutex_map_peer.hpp"
#include "peers/vkv_adapter.hpp"
#include "vkv/detail/epoch.hpp"

namespace {

using namespace vkv_bench;

std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::size_t resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(statm);
  }
  return static_cast<std::size_t>(pages_resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

template <class Subject>
void bytes_per_record(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto keys = make_keys(0, n);
  const Value32 value = make_value(7);
  double heap = 0, rss = 0;
  for (auto _ : state) {
    const std::size_t heap_before = heap_in_use();
    const std::size_t rss_before = resident_bytes();
    const auto start = std::chrono::steady_clock::now();
    auto subject = std::make_unique<Subject>();
    for (const auto& key : keys) {
      if (!subject->insert(key, value)) std::abort();
    }
    const auto stop = std::chrono::steady_clock::now();
    heap = static_cast<double>(heap_in_use() - heap_before);
    rss = static_cast<double>(resident_bytes() - rss_before);
    if (subject->size() != n) state.SkipWithError("wrong record count");
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    subject.reset();
  }
  vkv::detail::epoch::drain();
  state.counters["records"] = static_cast<double>(n);
  state.counters["heap_bytes_per_record"] = heap / static_cast<double>(n);
  state.counters["rss_bytes_per_record"] = rss / static_cast<double>(n);
}

// ---- Retired-node memory --------------------------------------------------------

constexpr std::size_t kKeysPerThread = 4;
constexpr int kMaxThreads = 8;

struct Storm {
  std::unique_ptr<VkvAdapter::Store> store;
  std::vector<std::string> keys;
  std::atomic<std::size_t> peak{0};
};
Storm storm;

template <bool Shared>
void retired_under_storm(benchmark::State& state) {
  using Store = VkvAdapter::Store;
  if (state.thread_index() == 0) {
    vkv::detail::epoch::drain();
    storm.store = std::make_unique<Store>();
    storm.keys = make_keys(0, kKeysPerThread * kMaxThreads);
    for (const auto& key : storm.keys) storm.store->create(key, make_value(0));
    storm.peak.store(0, std::memory_order_relaxed);  // before the start barrier
  }
  // Other threads touch `storm` only inside the loop, after the start barrier.
  std::vector<vkv::Version> known;
  std::size_t first = 0;
  double sampled = 0, samples = 0;
  std::size_t local_peak = 0;
  std::uint64_t ops = 0, conflicts = 0;
  const Value32 value = make_value(9);
  for (auto _ : state) {
    if (known.empty()) {
      first = Shared ? 0 : static_cast<std::size_t>(state.thread_index()) * kKeysPerThread;
      for (std::size_t k = 0; k < kKeysPerThread; ++k) {
        known.push_back(storm.store->find(storm.keys[first + k])->version);
      }
    }
    const std::size_t k = ops % kKeysPerThread;
    auto result = storm.store->try_update_with_version(storm.keys[first + k], known[k], value);
    if (result.ok()) {
      known[k] = result.value().version;
    } else {
      ++conflicts;
      known[k] = result.current()->version;  // conflict: retry from the winner
    }
    if (++ops % 64 == 0) {
      const std::size_t pending = vkv::detail::epoch::pending_bytes();
      local_peak = std::max(local_peak, pending);
      sampled += static_cast<double>(pending);
      ++samples;
    }
  }
  // relaxed max: the end barrier orders these before thread 0 reads the result.
  std::size_t seen = storm.peak.load(std::memory_order_relaxed);
  while (local_peak > seen &&
         !storm.peak.compare_exchange_weak(seen, local_peak, std::memory_order_relaxed)) {
  }
  state.counters["mean_pending_bytes"] =
      benchmark::Counter(samples > 0 ? sampled / samples : 0, benchmark::Counter::kAvgThreads);
  state.counters["conflicts"] = static_cast<double>(conflicts);
  state.counters["goodput"] =
      benchmark::Counter(static_cast<double>(ops - conflicts), benchmark::Counter::kIsRate);
  state.SetItemsProcessed(static_cast<std::int64_t>(ops));
  if (state.thread_index() == 0) {
    // Post-loop code of thread 0 runs after the end barrier: all threads have stored
    // their peak. The per-thread counters are summed, so only thread 0 reports it.
    state.counters["peak_pending_bytes"] =
        static_cast<double>(storm.peak.load(std::memory_order_relaxed));
    state.counters["peak_pending_bytes_per_thread"] =
        static_cast<double>(storm.peak.load(std::memory_order_relaxed)) / state.threads();
  }
}

// Runs after every thread of the run has finished (Teardown).
void storm_teardown(const benchmark::State&) {
  storm.store.reset();
  vkv::detail::epoch::drain();
}

void register_all() {
  const auto n = static_cast<std::int64_t>(scaled_keys(1000000));
  auto add = [&](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->Arg(n)->Iterations(1)->UseManualTime()->Unit(
        benchmark::kMillisecond);
  };
  add("BM_Vkv_BytesPerRecord", bytes_per_record<VkvAdapter>);
  add("BM_Chm_BytesPerRecord", bytes_per_record<ChmPeer>);
  add("BM_Cuckoo_BytesPerRecord", bytes_per_record<CuckooPeer>);
  add("BM_MutexMap_BytesPerRecord", bytes_per_record<MutexMapPeer>);
  for (auto* b :
       {benchmark::RegisterBenchmark("BM_Vkv_RetiredUnderUpdateStorm", retired_under_storm<false>),
        benchmark::RegisterBenchmark("BM_Vkv_RetiredUnderSharedStorm",
                                     retired_under_storm<true>)}) {
    b->Threads(1)->Threads(2)->Threads(4)->UseRealTime()->Teardown(storm_teardown);
  }
}

}  // namespace

int main(int argc, char** argv) { return vkv_bench::run_benchmarks(argc, argv, register_all); }
