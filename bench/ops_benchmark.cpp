// Single-operation costs of vkv, each beside its nearest peer in the same binary:
//   find               vs tbb::concurrent_hash_map find + copy (const_accessor),
//                         libcuckoo find, std::unordered_map under std::shared_mutex;
//   visit              vs the same peers reading the value in place (CHM const_accessor,
//                         libcuckoo find_fn, the mutex map under its shared lock);
//   visit, zipfian     the same with keys drawn Zipfian (theta 0.99, YCSB's), so two
//                         threads keep reading the same hot records;
//   update_with_retry  vs the pessimistic read-modify-write: the peer's write lock held
//                         across the same mutate, bumping a per-record version;
//   update_with_version vs CHM accessor assign, libcuckoo update_fn, the mutex map,
//                         each checking and bumping a per-record uint64 version;
//   create, erase      vs the peers' insert / version-checked erase;
//   version generation (detail::next_version) vs Boost's random UUID generator and a
//                         shared atomic counter;
//   the first find of a thread that never used vkv before (thread attach included);
//   the epoch read side: find and an empty Guard with symmetric vs asymmetric fences.
//
// Names: BM_<Unit>_<Scenario>/<records>, Unit in {Vkv, Chm, Cuckoo, MutexMap, Epoch,
// Version}. Keys are "user%010d" strings, values 32 bytes (bench/peers/common.hpp).
// Record counts: 10k (cache-resident) and 1M; VKV_BENCH_KEYS=<n> replaces both (smoke).
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/uuid/random_generator.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_main.hpp"
#include "peers/chm_peer.hpp"
#include "peers/common.hpp"
#include "peers/cuckoo_peer.hpp"
#include "peers/mutex_map_peer.hpp"
#include "peers/ycsb_generator.hpp"
#include "vkv/detail/epoch.hpp"
#include "vkv/detail/version_generator.hpp"
#include "vkv/store.hpp"

namespace {

using namespace vkv_bench;

// ---- Subjects: vkv and the peers behind one shape -------------------------------

struct VkvSubject {
  static constexpr const char* kName = "Vkv";
  using VersionType = vkv::Version;
  vkv::Store<Value32> store;

  VersionType create(const std::string& key, const Value32& value) {
    return store.create(key, value).version;
  }
  auto find(const std::string& key) const { return store.find(key); }
  template <class F>
  bool visit(const std::string& key, F&& f) const {
    return store.visit(key, [&](const vkv::RecordView<Value32>& view) { f(view.value); });
  }
  void update(const std::string& key, VersionType& version, const Value32& value) {
    version = store.update_with_version(key, version, value).version;
  }
  template <class M>
  void rmw(const std::string& key, VersionType& version, M&& mutate) {
    version = store.update_with_retry(key, mutate).version;
  }
  void erase(const std::string& key, const VersionType& version) { store.erase(key, version); }
};

template <class Peer>
struct PeerSubject {
  static constexpr const char* kName = Peer::kName;
  using VersionType = std::uint64_t;
  Peer map;

  VersionType create(const std::string& key, const Value32& value) {
    if (!map.insert(key, value)) std::abort();  // keys are unique by construction
    return 1;
  }
  auto find(const std::string& key) const { return map.find(key); }
  template <class F>
  bool visit(const std::string& key, F&& f) const {
    return map.visit(key, [&](const Versioned& v) { f(v.value); });
  }
  void update(const std::string& key, VersionType& version, const Value32& value) {
    if (!map.update(key, version, value)) std::abort();  // partitions never conflict
    ++version;
  }
  template <class M>
  void rmw(const std::string& key, VersionType& version, M&& mutate) {
    if (!map.rmw(key, mutate)) std::abort();
    ++version;
  }
  void erase(const std::string& key, const VersionType& version) {
    if (!map.erase(key, version)) std::abort();
  }
};

// ---- Shared data ----------------------------------------------------------------

const std::vector<std::string>& base_keys(std::size_t n) {
  return built_once(n, [n] { return make_keys(0, n); });
}

// 2^20 record indexes drawn from `next`.
template <class Next>
std::vector<std::uint32_t> draw_order(Next next) {
  std::vector<std::uint32_t> order(std::size_t{1} << 20);
  for (auto& i : order) i = static_cast<std::uint32_t>(next());
  return order;
}

// The order keys are visited in: random, fixed seed, the same for every subject.
const std::vector<std::uint32_t>& picks(std::size_t n) {
  return built_once(n, [n] {
    SplitMix random{0x5eed + n};
    return draw_order([&] { return random.below(n); });
  });
}

// The same, Zipfian (theta 0.99, YCSB's generator): rank 0 hottest, ranks scattered
// over the records by a hash, so hot records are not neighbours.
const std::vector<std::uint32_t>& zipf_picks(std::size_t n) {
  return built_once(n, [n] {
    const ZipfianGenerator zipf(n, 0.99);
    KeyChooser chooser(Distribution::zipfian, &zipf, n, 0x21bf + n);
    return draw_order([&] { return chooser.next(); });
  });
}

// A store holding n records, with the version of each as last written (so version-
// checked writes always succeed). Built once per (subject, n), on first use, by
// whichever benchmark thread gets there first; reused by every benchmark after.
template <class Subject>
struct Fixture {
  Subject subject;
  std::vector<typename Subject::VersionType> versions;
};

template <class Subject>
Fixture<Subject>& fixture(std::size_t n) {
  return *built_once(n, [n] {
    auto made = std::make_unique<Fixture<Subject>>();
    const auto& keys = base_keys(n);
    made->versions.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      made->versions.push_back(made->subject.create(keys[i], make_value(i)));
    }
    return made;
  });
}

// Thread t of T owns the records whose index is t modulo T: writers never conflict.
std::size_t owned(std::uint32_t pick, int thread, int threads, std::size_t n) {
  std::size_t i = pick - pick % static_cast<std::uint32_t>(threads) + thread;
  return i < n ? i : static_cast<std::size_t>(thread);
}

// ---- Benchmarks -----------------------------------------------------------------

// One read per iteration of the records in `order`, each thread from its own offset.
template <class Subject, class Read>
void read_loop(benchmark::State& state, const std::vector<std::uint32_t>& order, Read read) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& f = fixture<Subject>(n);
  const auto& keys = base_keys(n);
  std::size_t j = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) read(f.subject, keys[order[j++ & (order.size() - 1)]]);
  state.SetItemsProcessed(state.iterations());
}

template <class Subject>
void find_one(Subject& subject, const std::string& key) {
  auto found = subject.find(key);
  benchmark::DoNotOptimize(found);
}

template <class Subject, bool Zipfian = false>
void find(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  read_loop<Subject>(state, Zipfian ? zipf_picks(n) : picks(n), find_one<Subject>);
}

// Reads one byte of the value in place (the peers' read lock or vkv's Guard held).
template <class Subject, bool Zipfian>
void visit(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  read_loop<Subject>(
      state, Zipfian ? zipf_picks(n) : picks(n), [](Subject& subject, const std::string& key) {
        char seen = 0;
        const bool found = subject.visit(key, [&](const Value32& value) { seen = value.bytes[5]; });
        benchmark::DoNotOptimize(found);
        benchmark::DoNotOptimize(seen);
      });
}

// One write per iteration to a record the thread owns (no conflicts), in the fixed
// random order. The fixture keeps each record's version as last written, for the
// benchmarks that check it (UpdateWithVersion) and may run after another.
template <class Subject, class Write>
void write_loop(benchmark::State& state, Write write) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& f = fixture<Subject>(n);
  const auto& keys = base_keys(n);
  const auto& order = picks(n);
  std::size_t j = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const std::size_t i =
        owned(order[j & (order.size() - 1)], state.thread_index(), state.threads(), n);
    write(f.subject, keys[i], f.versions[i], j);
    ++j;
  }
  state.SetItemsProcessed(state.iterations());
}

// Read-modify-write: vkv's update_with_retry against the peer's write lock held across
// the same mutate.
template <class Subject>
void read_modify_write(benchmark::State& state) {
  write_loop<Subject>(
      state, [](Subject& subject, const std::string& key, typename Subject::VersionType& version,
                std::size_t) { subject.rmw(key, version, [](Value32& v) { ++v.bytes[0]; }); });
}

template <class Subject>
void update(benchmark::State& state) {
  const Value32 values[2] = {make_value(1), make_value(2)};
  write_loop<Subject>(state, [&values](Subject& subject, const std::string& key,
                                       typename Subject::VersionType& version, std::size_t j) {
    subject.update(key, version, values[j & 1]);
  });
}

// Creates (or erases) ops records per thread beyond the n already there; the run has
// a fixed iteration count so the store grows by a known amount, and is put back as it
// was afterwards (untimed).
std::size_t write_ops(std::size_t n) {
  return smoke_run() ? n / 2 + 1 : std::max<std::size_t>(n / 2, 100000);
}

// Creates (Erase false) or erases (true) one record per iteration, on this thread's
// write_ops(n) keys beyond the fixture's; what the timed loop needs first (the records
// to erase) or leaves behind (the records made) is done untimed, so the store ends as
// it began.
template <class Subject, bool Erase>
void create_or_erase(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& f = fixture<Subject>(n);
  const std::size_t ops = write_ops(n);
  const auto keys = make_keys(n + static_cast<std::size_t>(state.thread_index()) * ops, ops);
  std::vector<typename Subject::VersionType> made(ops);
  const Value32 value = make_value(Erase ? 4 : 3);
  if constexpr (Erase) {
    for (std::size_t i = 0; i < ops; ++i) made[i] = f.subject.create(keys[i], value);
  }
  std::size_t j = 0;
  for (auto _ : state) {
    if constexpr (Erase) {
      f.subject.erase(keys[j], made[j]);
    } else {
      made[j] = f.subject.create(keys[j], value);
    }
    ++j;
  }
  if constexpr (!Erase) {
    for (std::size_t i = 0; i < j; ++i) f.subject.erase(keys[i], made[i]);
  }
  state.SetItemsProcessed(state.iterations());
}

// The first operation of a brand-new thread: for vkv this includes attaching the
// thread to the epoch scheme (a reused ThreadRecord, since earlier threads exited).
// Thread creation and join are outside the measured time (manual timing).
template <class Subject>
void first_find(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& f = fixture<Subject>(n);
  const auto& keys = base_keys(n);
  std::size_t j = static_cast<std::size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    double seconds = 0;
    const std::string& key = keys[(j++ * 2654435761u) % n];
    std::thread fresh([&] {
      const auto start = std::chrono::steady_clock::now();
      auto found = f.subject.find(key);
      benchmark::DoNotOptimize(found);
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
    fresh.join();
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations());
}

// Runs `body` (the benchmark's loop) under fence mode Mode. set_fence_mode is allowed
// only while no other thread uses vkv: thread 0 switches before the loop's start
// barrier (other benchmark threads are then at most looking the fixture up, which does
// not touch vkv) and switches back after the loop's end barrier.
template <vkv::detail::epoch::FenceMode Mode, class Body>
void under_fence_mode(benchmark::State& state, Body body) {
  namespace epoch = vkv::detail::epoch;
  const epoch::FenceMode before = epoch::fence_mode();
  if (state.thread_index() == 0) epoch::set_fence_mode(Mode);
  body();
  if (state.thread_index() == 0) {
    if (epoch::fence_mode() != Mode) state.SkipWithError("fence mode not available");
    epoch::set_fence_mode(before);
  }
}

// find under a given fence mode; the fixture is built before the switch.
template <vkv::detail::epoch::FenceMode Mode>
void find_with_fence(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  fixture<VkvSubject>(n);
  under_fence_mode<Mode>(state,
                         [&] { read_loop<VkvSubject>(state, picks(n), find_one<VkvSubject>); });
}

template <vkv::detail::epoch::FenceMode Mode>
void empty_guard(benchmark::State& state) {
  under_fence_mode<Mode>(state, [&] {
    for (auto _ : state) {
      vkv::detail::epoch::Guard guard;
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations());
  });
}

void version_generate(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(vkv::detail::next_version());
  state.SetItemsProcessed(state.iterations());
}

// Peers: Boost.UUID's v4 generators. random_generator reads the OS entropy source
// for every UUID (Boost >= 1.67); random_generator_mt19937 runs a per-thread
// Mersenne Twister seeded once.
void version_boost_random(benchmark::State& state) {
  boost::uuids::random_generator generator;
  for (auto _ : state) benchmark::DoNotOptimize(generator());
  state.SetItemsProcessed(state.iterations());
}

void version_boost_mt19937(benchmark::State& state) {
  boost::uuids::random_generator_mt19937 generator;
  for (auto _ : state) benchmark::DoNotOptimize(generator());
  state.SetItemsProcessed(state.iterations());
}

// Peer: one process-wide counter, the obvious unique-version scheme (a shared line).
void version_shared_counter(benchmark::State& state) {
  static std::atomic<std::uint64_t> counter{0};
  // relaxed: only uniqueness is wanted, which any order gives.
  for (auto _ : state) benchmark::DoNotOptimize(counter.fetch_add(1, std::memory_order_relaxed));
  state.SetItemsProcessed(state.iterations());
}

// ---- Registration ---------------------------------------------------------------

std::vector<std::size_t> record_counts() {
  if (smoke_run()) return {scaled_keys(0)};
  return {10000, 1000000};
}

template <class Fn>
benchmark::internal::Benchmark* add(const std::string& name, Fn fn) {
  return benchmark::RegisterBenchmark(name.c_str(), fn)->Threads(1)->Threads(2)->UseRealTime();
}

template <class Subject>
void register_subject(std::size_t n) {
  const std::string unit = std::string("BM_") + Subject::kName + "_";
  const auto i = static_cast<std::int64_t>(n);
  const std::size_t ops = write_ops(n);
  add(unit + "Find", find<Subject>)->Arg(i);
  add(unit + "FindZipfian", find<Subject, true>)->Arg(i);
  add(unit + "Visit", visit<Subject, false>)->Arg(i);
  add(unit + "VisitZipfian", visit<Subject, true>)->Arg(i);
  add(unit + "UpdateWithVersion", update<Subject>)->Arg(i);
  add(unit + "UpdateWithRetry", read_modify_write<Subject>)->Arg(i);
  add(unit + "Create", create_or_erase<Subject, false>)
      ->Arg(i)
      ->Iterations(static_cast<std::int64_t>(ops));
  add(unit + "Erase", create_or_erase<Subject, true>)
      ->Arg(i)
      ->Iterations(static_cast<std::int64_t>(ops));
  benchmark::RegisterBenchmark((unit + "FirstFind").c_str(), first_find<Subject>)
      ->Arg(i)
      ->Threads(1)
      ->UseManualTime()
      ->Iterations(smoke_run() ? 10 : 2000);
}

void register_all() {
  using vkv::detail::epoch::FenceMode;
  for (std::size_t n : record_counts()) {
    register_subject<VkvSubject>(n);
    register_subject<PeerSubject<ChmPeer>>(n);
    register_subject<PeerSubject<CuckooPeer>>(n);
    register_subject<PeerSubject<MutexMapPeer>>(n);
    const auto i = static_cast<std::int64_t>(n);
    add("BM_Vkv_FindFenceSymmetric", find_with_fence<FenceMode::symmetric>)->Arg(i);
    add("BM_Vkv_FindFenceAsymmetric", find_with_fence<FenceMode::asymmetric>)->Arg(i);
  }
  add("BM_Epoch_GuardSymmetric", empty_guard<FenceMode::symmetric>);
  add("BM_Epoch_GuardAsymmetric", empty_guard<FenceMode::asymmetric>);
  add("BM_Version_Generate", version_generate);
  add("BM_Version_BoostRandom", version_boost_random);
  add("BM_Version_BoostMt19937", version_boost_mt19937);
  add("BM_Version_SharedCounter", version_shared_counter);
}

}  // namespace

int main(int argc, char** argv) { return vkv_bench::run_benchmarks(argc, argv, register_all); }
