// Shared helpers of the stress, fault and linearizability tests (tests only).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace vkv_test {

// Sanitized builds run every iteration count scaled down: TSan costs 5-15x, and the CI
// jobs run the whole concurrency suite under it on two cores.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// VKV_STRESS_SCALE multiplies iteration counts (e.g. 10 for a long local run).
inline double stress_scale() {
  const char* env = std::getenv("VKV_STRESS_SCALE");
  double scale = env ? std::atof(env) : 1.0;
  if (!(scale > 0)) scale = 1.0;
  return scale;
}

// `base` iterations scaled by VKV_STRESS_SCALE, divided by `sanitized_divisor` in
// sanitized builds, never below 1.
inline std::int64_t scaled(std::int64_t base, std::int64_t sanitized_divisor = 4) {
  double n = static_cast<double>(base) * stress_scale();
  if (kSanitized) n /= static_cast<double>(sanitized_divisor);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(n));
}

// Realistic key lengths: 0 = the short name alone, inside std::string's
// 15-character small buffer; 16, just past it; 36, a UUID; 120, a long composite id.
// Keys past 15 characters own heap memory, so a path that reads a key after its entry
// was freed shows under ASan (and as a garbled id without it).
inline constexpr std::size_t kKeyLengths[] = {0, 16, 36, 120};

// `name` padded to kKeyLengths[i % 4] characters (never shortened): a workload that
// names its keys through this runs short and long keys side by side, at no extra cost.
inline std::string realistic_key(std::string name, std::int64_t i) {
  const std::size_t length = kKeyLengths[static_cast<std::size_t>(i) % std::size(kKeyLengths)];
  if (name.size() < length) name.resize(length, name.size() % 2 == 0 ? '~' : '.');
  return name;
}

// Makes a test's threads run at the same time, and records the evidence: a run whose
// threads went one after another checks its invariants without any concurrency. On a
// loaded two-core machine that happens by itself (CI once saw four threads of 6,250
// writes each run one after another), so the overlap is injected, not hoped for.
//
// Thread t calls step(t) after (or before) each operation. Two waits make the overlap:
// - at its first step, a thread waits until every thread has taken its first step, so
//   no thread gets past step 1 before every thread has started;
// - at its kHold-th step, a thread waits until some other thread has taken its second
//   step. That step came after the rendezvous, so after this thread's first step, and
//   before its kHold-th: another thread made progress in the middle of this one's run.
// A thread that reached kHold and got past it has seen that (saw_progress); after
// joining, overlapping() says how many threads did, and a test expects at least one.
//
// Requirements (every stress test meets them): every thread calls step at least once
// (else the rendezvous never ends), and some thread other than the one holding calls it
// at least twice. Both waits only yield: each ends as soon as a thread that is already
// runnable takes one step that nothing else waits on.
class Overlap {
 public:
  static constexpr std::uint64_t kHold = 64;

  explicit Overlap(int threads) : slots_(static_cast<std::size_t>(threads)) {}

  void step(int thread) noexcept {
    Slot& mine = slots_[static_cast<std::size_t>(thread)];
    // relaxed: a single writer per count; the waits below only need to see some recent
    // value of the others' counts, and they read nothing those counts publish.
    const std::uint64_t n = mine.count.load(std::memory_order_relaxed) + 1;
    mine.count.store(n, std::memory_order_relaxed);
    if (n == 1) {
      while (others(thread).least < 1) std::this_thread::yield();
    } else if (n == kHold && slots_.size() > 1) {
      while (others(thread).most < 2) std::this_thread::yield();
      mine.saw_progress = true;  // owner-only field, read after join
    }
  }

  // Call after joining the threads.
  int overlapping() const noexcept {
    int n = 0;
    for (const Slot& slot : slots_) n += slot.saw_progress ? 1 : 0;
    return n;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<std::uint64_t> count{0};
    bool saw_progress = false;
  };

  struct Span {
    std::uint64_t least = UINT64_MAX;  // stays so when there is no other thread
    std::uint64_t most = 0;
  };

  // The fewest and the most steps any other thread has taken.
  Span others(int thread) const noexcept {
    Span span;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (i == static_cast<std::size_t>(thread)) continue;
      const std::uint64_t count = slots_[i].count.load(std::memory_order_relaxed);
      span.least = std::min(span.least, count);
      span.most = std::max(span.most, count);
    }
    return span;
  }

  std::vector<Slot> slots_;
};

// A value type that counts its live instances, so a test can prove that every node
// the store allocated was freed.
class Counted {
 public:
  static std::int64_t live() {
    // acquire: pairs with the release decrements so that a zero seen after joining
    // and draining reflects every destructor that ran.
    return live_.load(std::memory_order_acquire);
  }

  Counted() noexcept : Counted(0) {}
  explicit Counted(std::int64_t v, std::string payload = {}) noexcept
      : value(v), payload(std::move(payload)) {
    // relaxed would do for the count itself; acq_rel keeps the reasoning local.
    live_.fetch_add(1, std::memory_order_acq_rel);
  }
  Counted(const Counted& o) : value(o.value), payload(o.payload) {
    live_.fetch_add(1, std::memory_order_acq_rel);
  }
  Counted(Counted&& o) noexcept : value(o.value), payload(std::move(o.payload)) {
    live_.fetch_add(1, std::memory_order_acq_rel);
  }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) noexcept = default;
  ~Counted() { live_.fetch_sub(1, std::memory_order_acq_rel); }

  friend bool operator==(const Counted& x, const Counted& y) {
    return x.value == y.value && x.payload == y.payload;
  }

  std::int64_t value = 0;
  std::string payload;  // makes copies allocate, so bad_alloc can hit them

 private:
  static inline std::atomic<std::int64_t> live_{0};
};

}  // namespace vkv_test
