// Epoch-based reclamation: the slow paths (attach/detach, advancing, freeing).
// See include/vkv/detail/epoch.hpp for the invariants.
#include "vkv/detail/epoch.hpp"

#include <cxxabi.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

extern "C" void* __dso_handle;  // this module's handle, for __cxa_thread_atexit

namespace vkv::detail::epoch {

std::atomic<std::uint64_t> global_epoch{1};
std::atomic<bool> asymmetric_fence{false};

namespace {

// The registry: a push-only lock-free list of records (invariant 3). Never freed, so a
// scanner may walk it at any time; records stay reachable for leak checkers.
std::atomic<ThreadRecord*> registry_head{nullptr};
std::atomic<std::uint64_t> next_index{0};

// Invariant 5: set while one thread advances the epoch.
std::atomic<bool> advancing{false};
// The garbage bound, and whether the last collector found all garbage over it.
std::atomic<std::size_t> garbage_limit_bytes{kDefaultGarbageLimit};
// What the last collector found: 0 = fine, 1 = more than kSoftObjects objects pending
// (each write yields once: backpressure that lets a preempted reader run and leave its
// Guard), 2 = over the byte limit (writers wait in throttle()).
std::atomic<int> pressure{0};
constexpr std::size_t kSoftObjects = 4096;

// Garbage of exited threads. Touched only when a thread exits and, with try_lock,
// when a thread collects: never on a hot path.
struct Orphans {
  std::mutex mutex;
  std::vector<Retired> items;
  std::atomic<std::size_t> count{0};
  std::atomic<std::size_t> bytes{0};
};
// Built by attach_thread() (invariant 4), so the first call from collect() or detach()
// never allocates.
Orphans& orphans() {
  static Orphans* instance = new Orphans;  // never destroyed: threads may exit after main
  return *instance;
}

bool membarrier_available() {
#if defined(VKV_UNDER_TSAN)
  return false;
#else
  const long supported = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (supported < 0 || (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
}

bool membarrier_registered = false;

// Runs at start-up, before main and so before any thread can use vkv.
const bool fence_mode_initialised = [] {
  const char* env = std::getenv("VKV_EPOCH_FENCE");
  const bool want_symmetric = env != nullptr && std::strcmp(env, "symmetric") == 0;
  membarrier_registered = !want_symmetric && membarrier_available();
  asymmetric_fence.store(membarrier_registered, std::memory_order_relaxed);
  return true;
}();

// Orders every thread's earlier announcement stores before our following loads.
// False if it could not (membarrier failed): then the caller must not advance. A
// failed membarrier also switches new Guards to the symmetric fence for good.
bool heavy_fence() noexcept {
  if (asymmetric_fence.load(std::memory_order_relaxed)) {
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
      // Registered at start-up, so this should not happen; if it does, readers that
      // entered with only a compiler fence were not fenced: do not advance now.
      asymmetric_fence.store(false, std::memory_order_seq_cst);
      return false;
    }
  }
#if defined(VKV_UNDER_TSAN)
  // A seq_cst read-modify-write: joins the single total order with the readers'
  // seq_cst announcements (see VKV_UNDER_TSAN in epoch.hpp).
  global_epoch.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  return true;
}

// Frees the entries of `items` that invariant 2 allows; keeps the rest in order.
// Returns the bytes freed.
// Frees at most `budget` objects (a collect's time budget: a writer that collects
// never frees a whole backlog at once).
std::size_t free_eligible(std::vector<Retired>& items, std::size_t& freed_count,
                          std::size_t budget = SIZE_MAX) noexcept {
  // acquire: pairs with the release/acq_rel that advanced the epoch, so the
  // departures of the readers it waited for happen-before our frees.
  const std::uint64_t now = global_epoch.load(std::memory_order_acquire);
  std::size_t freed_bytes = 0;
  auto keep = std::remove_if(items.begin(), items.end(), [&](const Retired& r) {
    if (r.epoch + 2 > now || freed_count >= budget) return false;
    r.deleter(r.object);
    freed_bytes += r.bytes;
    ++freed_count;
    return true;
  });
  items.erase(keep, items.end());
  return freed_bytes;
}

// Orphans freed by one collect() of a writer: its time budget (about 2 us here).
constexpr std::size_t kOrphanBudget = 256;

void collect_orphans(bool wait) noexcept {
  Orphans& o = orphans();
  std::unique_lock lock(o.mutex, std::defer_lock);
  if (wait) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return;
  }
  std::size_t freed = 0;
  const std::size_t bytes = free_eligible(o.items, freed, wait ? SIZE_MAX : kOrphanBudget);
  o.count.store(o.items.size(), std::memory_order_relaxed);
  o.bytes.store(o.bytes.load(std::memory_order_relaxed) - bytes, std::memory_order_relaxed);
}

void collect_own(ThreadRecord& record) noexcept {
  std::size_t freed = 0;
  const std::size_t bytes = free_eligible(record.limbo, freed);
  record.limbo_count.store(record.limbo.size(), std::memory_order_relaxed);
  record.limbo_bytes.store(record.limbo_bytes.load(std::memory_order_relaxed) - bytes,
                           std::memory_order_relaxed);
}

void detach(ThreadRecord* record) noexcept {
  // The thread is exiting: it is outside every Guard (Guards are scoped), so
  // announced is already 0. Its garbage goes to the orphans.
  collect_own(*record);
  if (!record->limbo.empty()) {
    Orphans& o = orphans();
    std::lock_guard lock(o.mutex);
    try {
      o.items.insert(o.items.end(), record->limbo.begin(), record->limbo.end());
      record->limbo.clear();
    } catch (...) {
      // Out of memory while exiting: keep the garbage in the record; the next owner
      // of the record frees it (its epochs are still valid).
    }
    o.count.store(o.items.size(), std::memory_order_relaxed);
    std::size_t bytes = 0;
    for (const Retired& r : o.items) bytes += r.bytes;
    o.bytes.store(bytes, std::memory_order_relaxed);
  }
  record->limbo_count.store(record->limbo.size(), std::memory_order_relaxed);
  std::size_t bytes = 0;
  for (const Retired& r : record->limbo) bytes += r.bytes;
  record->limbo_bytes.store(bytes, std::memory_order_relaxed);
  tls_record = nullptr;
  // release: the next owner (acquire in attach_thread) sees our owner-only fields.
  record->in_use.store(false, std::memory_order_release);
}

// The thread-exit hook. Registered by every attach (__cxa_thread_atexit, not a
// function-local thread_local, which would not register again): a thread that comes
// back to vkv after its hook ran (from a user thread_local destroyed later) attaches
// again and is detached again, instead of keeping its record for good.
void detach_at_exit(void*) noexcept {
  if (ThreadRecord* record = tls_record) detach(record);
}

}  // namespace

FenceMode fence_mode() noexcept {
  return asymmetric_fence.load(std::memory_order_relaxed) ? FenceMode::asymmetric
                                                          : FenceMode::symmetric;
}

void set_fence_mode(FenceMode mode) {
  if (mode == FenceMode::asymmetric && !membarrier_registered) {
    membarrier_registered = membarrier_available();
    if (!membarrier_registered) return;  // stays symmetric
  }
  asymmetric_fence.store(mode == FenceMode::asymmetric, std::memory_order_seq_cst);
}

ThreadRecord* attach_thread() {
  (void)orphans();  // invariant 4: built before this thread's first compare-and-swap
  // May fail (it allocates): then nothing is attached, and we throw like `new`.
  if (__cxxabiv1::__cxa_thread_atexit(&detach_at_exit, nullptr, &__dso_handle) != 0) {
    throw std::bad_alloc();
  }

  // Reuse a record a finished thread left behind.
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    bool expected = false;
    // acquire: pairs with the previous owner's release in detach().
    if (!r->in_use.load(std::memory_order_relaxed) &&
        r->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
      tls_record = r;
      return r;
    }
  }
  auto* record = new ThreadRecord;  // may throw bad_alloc: nothing attached yet
  // relaxed: the index only has to be unique; publication below orders it.
  record->index = next_index.fetch_add(1, std::memory_order_relaxed);
  ThreadRecord* head = registry_head.load(std::memory_order_relaxed);
  do {
    record->next = head;
    // release: scanners that load the head (acquire) see a fully built record.
  } while (!registry_head.compare_exchange_weak(head, record, std::memory_order_release,
                                                std::memory_order_relaxed));
  tls_record = record;
  return record;
}

namespace {

// True if some thread inside a Guard announced an epoch other than `epoch`.
bool some_reader_behind(std::uint64_t epoch) noexcept {
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    // acquire: a departed reader's release store of 0 happens-before what we free.
    const std::uint64_t announced = r->announced.load(std::memory_order_acquire);
    if ((announced & 1) != 0 && (announced >> 1) != epoch) return true;
  }
  return false;
}

}  // namespace

bool try_advance() noexcept {
  // Invariant 5. relaxed first: an advance in progress is as good as ours, and the
  // flag's line is not written when we would only fail. acquire on the exchange pairs
  // with the previous advancer's release, so its epoch is the one we read.
  if (advancing.load(std::memory_order_relaxed) ||
      advancing.exchange(true, std::memory_order_acquire)) {
    return false;
  }
  std::uint64_t epoch = global_epoch.load(std::memory_order_acquire);
  // Without a fence first: an announcement we can already see to be behind blocks the
  // advance whatever the fence would show (returning false frees nothing, so a stale
  // view can only delay reclamation, never break it).
  bool advanced = false;
  if (!some_reader_behind(epoch) && heavy_fence() && !some_reader_behind(epoch)) {
    // acq_rel: publishes the new epoch after the scan; a failure means another thread
    // advanced it (drain() from a thread racing us), which is as good.
    global_epoch.compare_exchange_strong(epoch, epoch + 1, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
    advanced = true;
  }
  advancing.store(false, std::memory_order_release);
  return advanced;
}

namespace {

// Moves the calling thread's unfreed garbage to the orphan list (the epoch is held
// back): a thread that parks afterwards keeps nothing. Out of memory, it keeps it.
void hand_off(ThreadRecord& record) noexcept {
  Orphans& o = orphans();
  std::unique_lock lock(o.mutex, std::try_to_lock);
  if (!lock.owns_lock()) return;  // next time
  try {
    o.items.insert(o.items.end(), record.limbo.begin(), record.limbo.end());
  } catch (...) {
    return;
  }
  o.count.store(o.items.size(), std::memory_order_relaxed);
  o.bytes.store(
      o.bytes.load(std::memory_order_relaxed) + record.limbo_bytes.load(std::memory_order_relaxed),
      std::memory_order_relaxed);
  record.limbo.clear();
  record.limbo_count.store(0, std::memory_order_relaxed);
  record.limbo_bytes.store(0, std::memory_order_relaxed);
}

}  // namespace

void collect(ThreadRecord& record) noexcept {
  try_advance();
  collect_own(record);
  // relaxed: a hint; collect_orphans takes the orphans' lock before touching them.
  if (orphans().count.load(std::memory_order_relaxed) != 0) collect_orphans(/*wait=*/false);
  std::size_t held = record.limbo_bytes.load(std::memory_order_relaxed);
  if (record.limbo.size() >= kHandOffFactor * kCollectThreshold ||
      held >= kHandOffFactor * kCollectBytes) {
    hand_off(record);
    held = record.limbo_bytes.load(std::memory_order_relaxed);
  }
  record.collect_at_count = record.limbo.size() + kCollectThreshold;
  record.collect_at_bytes = held + kCollectBytes;
  // Stuck: the epoch has not moved across this thread's last kCollectThreshold
  // retirements, so a reader holds it back (garbage merely in flight is no pressure).
  // relaxed: a hint; try_advance() and the frees order what matters.
  const std::uint64_t epoch_now = global_epoch.load(std::memory_order_relaxed);
  const bool stuck = epoch_now == record.epoch_at_collect;
  record.epoch_at_collect = epoch_now;
  // relaxed: a hint for throttle(), which checks again before it lets a writer wait.
  int now = 0;
  if (pending_bytes() > garbage_limit_bytes.load(std::memory_order_relaxed)) {
    now = 2;
  } else if (stuck && pending() > kSoftObjects) {
    now = 1;
  }
  if (now != pressure.load(std::memory_order_relaxed))
    pressure.store(now, std::memory_order_relaxed);
}

std::size_t garbage_limit() noexcept { return garbage_limit_bytes.load(std::memory_order_relaxed); }

void set_garbage_limit(std::size_t bytes) noexcept {
  // relaxed: a setting read by collectors; exactness in time is not needed.
  garbage_limit_bytes.store(bytes, std::memory_order_relaxed);
}

void throttle() noexcept {
  // relaxed: a hint, set by collectors; a stale 0 lets one more write through.
  const int level = pressure.load(std::memory_order_relaxed);
  if (level == 0) [[likely]] {
    return;
  }
  ThreadRecord* record = tls_record;
  if (record != nullptr && record->nesting != 0) return;  // inside a Guard: cannot wait
  if (level == 1) {
    std::this_thread::yield();  // backpressure only
    return;
  }
  auto pause = std::chrono::microseconds(1);
  for (int round = 0;; ++round) {
    try_advance();
    if (record != nullptr) collect_own(*record);
    collect_orphans(/*wait=*/false);
    if (pending_bytes() <= garbage_limit_bytes.load(std::memory_order_relaxed)) {
      pressure.store(0, std::memory_order_relaxed);  // the next collect judges again
      return;
    }
    // A reader inside a Guard holds the epoch back: let it run.
    if (round < 16) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(pause);
      if (pause < std::chrono::milliseconds(1)) pause *= 2;
    }
  }
}

std::size_t pending() noexcept {
  std::size_t total = orphans().count.load(std::memory_order_relaxed);
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    total += r->limbo_count.load(std::memory_order_relaxed);
  }
  return total;
}

std::size_t pending_bytes() noexcept {
  std::size_t total = orphans().bytes.load(std::memory_order_relaxed);
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    total += r->limbo_bytes.load(std::memory_order_relaxed);
  }
  return total;
}

std::size_t drain() noexcept {
  ThreadRecord* record = tls_record;
  // Three advances move every object retired so far past its grace period (E + 2),
  // unless some thread is inside a Guard.
  for (int i = 0; i < 3; ++i) try_advance();
  if (record != nullptr && record->nesting == 0) collect_own(*record);
  collect_orphans(/*wait=*/true);
  // Records of exited threads whose garbage could not move to the orphans.
  return pending();
}

}  // namespace vkv::detail::epoch
