// YCSB core workloads against vkv and the peers, at 1, 2, 4 and 8 threads, with
// uniform and Zipfian (theta 0.99, scrambled as YCSB does) key choice.
//
//   A: 50% read, 50% update        B: 95% read, 5% update
//   C: 100% read                   F: 50% read, 50% read-modify-write
//
// read   = find (a copy of the value and its version).
// update = a write that names no version (YCSB's update). vkv: update_with_retry
//          (read, then compare-and-swap, retried with the default policy on a
//          conflict); peers: assign under their lock and bump the version.
// rmw    = read, change the value, write it back iff the version is still the one read
//          (vkv: try_update_with_version; peers: the same check under their lock). A
//          version mismatch is a failed operation, not retried, as a YCSB client would
//          report it.
//
// Counters: items_per_second (all operations), goodput (operations that succeeded,
// per second), failed (total failed operations). 100k records ("user%010d", 32-byte
// values), loaded once per store; VKV_BENCH_KEYS=<n> replaces the record count.
// Names: BM_<Unit>_Ycsb<Workload>_<Distribution>/real_time/threads:<t>.
// On the 2-core machine of docs/benchmarks.md, 4 and 8 threads oversubscribe the CPU
// on purpose: lock holders get preempted, which is where lock-free reads pay off.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench_main.hpp"
#include "peers/chm_peer.hpp"
#include "peers/common.hpp"
#include "peers/cuckoo_peer.hpp"
#include "peers/mutex_map_peer.hpp"
#include "peers/vkv_adapter.hpp"
#include "peers/ycsb_generator.hpp"

namespace {

using namespace vkv_bench;

struct Workload {
  const char* name;
  double read;  // the rest are updates, or read-modify-writes when rmw is set
  bool rmw;
};

constexpr Workload kWorkloads[] = {
    {"A", 0.50, false}, {"B", 0.95, false}, {"C", 1.00, false}, {"F", 0.50, true}};

const std::vector<std::string>& keys(std::size_t n) {
  return built_once(n, [n] { return make_keys(0, n); });
}

const ZipfianGenerator& zipf(std::size_t n) {
  return *built_once(n, [n] { return std::make_unique<ZipfianGenerator>(n, 0.99); });
}

// Loaded once per store type and record count (first benchmark thread to get here).
template <class Subject>
Subject& loaded(std::size_t n) {
  return *built_once(n, [n] {
    auto s = std::make_unique<Subject>();
    const auto& k = keys(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!s->insert(k[i], make_value(i))) std::abort();
    }
    return s;
  });
}

// vkv and every peer: find, then a version-checked update of one byte.
template <class Subject>
bool read_modify_write(Subject& subject, const std::string& key) {
  auto current = subject.find(key);
  if (!current) return false;
  Value32 value = current->value;
  ++value.bytes[0];
  return subject.update(key, current->version, value);
}

template <class Subject>
void ycsb(benchmark::State& state, Workload workload, Distribution distribution) {
  const std::size_t n = scaled_keys(100000);
  Subject& subject = loaded<Subject>(n);
  const auto& k = keys(n);
  KeyChooser chooser(distribution, &zipf(n), n,
                     0x9c5b + 7919 * static_cast<std::uint64_t>(state.thread_index()));
  const auto read_below = static_cast<std::uint64_t>(workload.read * 1000000);
  const Value32 value = make_value(11);
  std::uint64_t failed = 0;
  for (auto _ : state) {
    const std::string& key = k[chooser.next()];
    if (chooser.random().below(1000000) < read_below) {
      auto found = subject.find(key);
      benchmark::DoNotOptimize(found);
      if (!found) ++failed;
    } else if (workload.rmw) {
      if (!read_modify_write(subject, key)) ++failed;
    } else {
      if (!subject.blind_update(key, value)) ++failed;
    }
  }
  const auto ops = static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.counters["goodput"] =
      benchmark::Counter(ops - static_cast<double>(failed), benchmark::Counter::kIsRate);
  state.counters["failed"] = static_cast<double>(failed);
}

template <class Subject>
void register_subject() {
  for (const Workload& w : kWorkloads) {
    for (Distribution d : {Distribution::uniform, Distribution::zipfian}) {
      const std::string name = std::string("BM_") + Subject::kName + "_Ycsb" + w.name + "_" +
                               (d == Distribution::uniform ? "Uniform" : "Zipfian");
      benchmark::RegisterBenchmark(name.c_str(),
                                   [w, d](benchmark::State& state) { ycsb<Subject>(state, w, d); })
          ->Threads(1)
          ->Threads(2)
          ->Threads(4)
          ->Threads(8)
          ->UseRealTime();
    }
  }
}

void register_all() {
  register_subject<VkvAdapter>();
  register_subject<ChmPeer>();
  register_subject<CuckooPeer>();
  register_subject<MutexMapPeer>();
}

}  // namespace

int main(int argc, char** argv) { return vkv_bench::run_benchmarks(argc, argv, register_all); }
