// The shared contention driver: runs real threads doing reads and read-modify-writes
// on a real vkv::Store (or, for the pessimistic baseline, on a locked
// tbb::concurrent_hash_map) and measures goodput, conflicts, retries and latency.
// Used by bench/contention_benchmark.cpp and by vkv-lab.
//
// Thread safety: run_cell() may be called from one thread at a time per Arena (it
// starts its own worker threads). Different Arenas are independent.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vkv/retry.hpp"

namespace vkv::workload {

// How a writer handles a conflict. Every strategy but the pessimistic ones runs
// Store::update_with_retry with a RetryPolicy of the named shape; adaptive also turns
// on StoreOptions::contention_adaptive; pessimistic takes a per-key write lock (a
// tbb::concurrent_hash_map write accessor) across the read-modify-write of a record
// holding what a vkv record holds (value, fresh RFC 9562 version, revision), and
// reads copy that record under the read lock. pessimistic_unversioned is the same
// lock around a bare counter: a reference for what versioning costs, not a peer
// (it is left out of all_strategies()).
enum class Strategy {
  no_backoff,               // retry at once (retry_delay 0)
  exponential,              // Jitter::none
  full_jitter,              // Jitter::full
  equal_jitter,             // Jitter::equal
  decorrelated_jitter,      // Jitter::decorrelated
  adaptive,                 // Jitter::full + contention-adaptive turns
  pessimistic,              // lock per key, no optimism; versioned records
  pessimistic_unversioned,  // lock per key around a bare counter (reference only)
};
enum class Distribution { uniform, zipf };

// The read-modify-write window: what happens between a write's read and its write.
//   busy: CPU work (a spin on steady_clock), standing for computation in mutate;
//   blocking: a sleep, standing for I/O (the read is done in one step and the write in
//   a later one, as a request that reads a row, calls a service, then writes it).
// The optimistic strategies run the window inside update_with_retry's mutate, outside
// any lock, once per attempt; pessimistic holds the key's write lock across it, as a
// database row lock (SELECT ... FOR UPDATE) would. Workers lower their timer slack to
// 1 us so a blocking window overshoots by the wakeup latency only, alike for all.
enum class WindowKind { busy, blocking };
struct Window {
  WindowKind kind = WindowKind::busy;
  std::chrono::nanoseconds length{0};  // 0: no window (a bare increment)
  friend bool operator==(const Window&, const Window&) = default;
};
// "0" for no window, else "busy-1us", "busy-10us", "blocking-100us", "busy-250ns".
std::string window_name(const Window&);
// Inverse of window_name; also accepts "none" and ':' for '-', e.g. "blocking:10us".
// Units: ns, us, ms.
std::optional<Window> parse_window(std::string_view);
// The sweep's windows: 0, busy 1 us, busy 10 us, blocking 10 us, blocking 100 us.
std::vector<Window> standard_windows();

// "no-backoff", "exponential", "full-jitter", "equal-jitter", "decorrelated-jitter",
// "adaptive", "pessimistic", "pessimistic-unversioned".
std::string_view strategy_name(Strategy);
std::optional<Strategy> parse_strategy(std::string_view);
// Every strategy but pessimistic_unversioned, in declaration order.
std::vector<Strategy> all_strategies();
// "uniform", "zipf".
std::string_view distribution_name(Distribution);
std::optional<Distribution> parse_distribution(std::string_view);

struct CellConfig {
  int threads = 2;
  std::size_t keys = 1;
  Distribution distribution = Distribution::uniform;
  double zipf_theta = 0.99;
  double write_share = 1.0;  // fraction of ops that are read-modify-writes
  Strategy strategy = Strategy::full_jitter;
  std::chrono::milliseconds duration{200};
  std::uint64_t seed = 42;

  // --- Added members ---
  // The retry policy's knobs for the optimistic strategies; zero = RetryPolicy's
  // defaults. max_retries is high so that goodput compares strategies by the work
  // they waste, not by how often they give up (gave_up counts the rest).
  std::chrono::nanoseconds base_delay{0};
  std::chrono::nanoseconds max_delay{0};
  int max_retries = 1000;
  // RetryPolicy::escalate_after for the optimistic strategies (the starvation bound;
  // 0 turns it off, to measure what it costs or saves).
  int escalate_after = RetryPolicy{}.escalate_after;
  // Older spelling of a busy window (kept for callers): used when window.length is 0.
  std::chrono::nanoseconds mutate_work{0};
  // The read-modify-write window (see Window). Longer windows mean more conflicts at
  // the same thread count.
  Window window{};
  // Latency is sampled: each worker times one operation in this many (by its own
  // operation count, never by a random draw), whatever the strategy, so the clock
  // reads cost every strategy the same. 1 times every operation.
  int latency_sample_every = 8;
  // adaptive only: StoreOptions::contention_max_wait; 0 = the store's default.
  std::chrono::nanoseconds contention_max_wait{0};
  // Optional progress hook for long sweeps: called from the calling thread (the
  // driver) about every 50 ms of the cell, with the fraction of the duration done
  // (0..1); never from a worker.
  std::function<void(double done)> progress;
};

struct CellResult {
  CellConfig config;
  double seconds = 0;
  std::uint64_t committed = 0;  // committed writes + reads done
  std::uint64_t writes = 0, reads = 0, attempts = 0, conflicts = 0, gave_up = 0;
  double goodput = 0;                        // committed ops per second
  double conflict_rate = 0;                  // failed CAS / write attempts
  double retries_mean = 0, retries_p99 = 0;  // retries per committed write
  // Latency of one committed operation of any kind, from the sampled operations.
  double latency_p50_ns = 0, latency_p99_ns = 0, latency_p999_ns = 0;
  // --- Added members ---
  std::uint64_t turns = 0;  // adaptive: attempts made holding a key's turn
  // Write latency alone (read-modify-writes that committed, retries and windows
  // included), from the sampled operations.
  double write_latency_p50_ns = 0, write_latency_p99_ns = 0, write_latency_p999_ns = 0;
  std::uint64_t latency_samples = 0;  // operations timed (all kinds)
  // Read latency alone (find() on vkv; a copy under the key's read lock for
  // pessimistic), from the sampled operations; 0 when the cell had no reads.
  double read_latency_p50_ns = 0, read_latency_p99_ns = 0, read_latency_p999_ns = 0;
  // The slowest sampled read and write.
  double read_latency_max_ns = 0, write_latency_max_ns = 0;
};

// The window a cell runs with: config.window, or a busy window of mutate_work.
Window effective_window(const CellConfig&);

// Scratch space for the cells of one key count. Every cell runs on structures built
// fresh for it (outside the timed part), so no cell inherits another's garbage,
// contention heat or grown tables; the Arena keeps only the Zipf tables, which are
// pure functions of (keys, theta) and slow to compute for a million keys. Every cell
// checks the invariant "sum of all counters == committed writes" on what it used.
class Arena {
 public:
  explicit Arena(std::size_t keys);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  std::size_t keys() const noexcept;

  struct Impl;

 private:
  friend CellResult run_cell(const CellConfig&, Arena&);
  std::unique_ptr<Impl> impl_;
};

// Runs one cell on a fresh Arena of config.keys keys: real threads on a real
// vkv::Store. Throws std::invalid_argument for a bad config and std::logic_error if
// the counters' invariant breaks.
CellResult run_cell(const CellConfig&);
// Same, on structures built earlier (arena.keys() must equal config.keys).
CellResult run_cell(const CellConfig&, Arena& arena);

// The RetryPolicy an optimistic strategy runs with (pessimistic: the defaults).
RetryPolicy policy_for(const CellConfig&);
// The jitter an optimistic strategy retries with (none for no_backoff and exponential,
// full for adaptive until its turn); nullopt for the pessimistic strategies, which do
// not retry a compare-and-swap.
std::optional<Jitter> jitter_of(Strategy);

// YCSB's Zipfian generator (Gray et al., "Quickly generating billion-record synthetic
// databases", SIGMOD 1994), NOT scrambled: rank 0 is the hottest key. vkv hashes keys
// before use, so adjacency of hot keys has no locality effect to hide.
class ZipfGenerator {
 public:
  ZipfGenerator(std::uint64_t items, double theta);
  // u uniform in [0, 1).
  std::uint64_t operator()(double u) const noexcept;
  std::uint64_t items() const noexcept { return items_; }
  double theta() const noexcept { return theta_; }

 private:
  std::uint64_t items_;
  double theta_, zetan_, alpha_, eta_, half_pow_theta_;
};

}  // namespace vkv::workload
