// Epoch-based reclamation: the slow paths (attach/detach, advancing, freeing).
// See include/vkv/detail/epoch.hpp for the invariants.
#include "vkv/detail/epoch.hpp"

#include <cxxabi.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

extern "C" void* __dso_handle;  // this module's handle, for __cxa_thread_atexit

namespace vkv::detail::epoch {

std::atomic<std::uint64_t> global_epoch{1};
std::atomic<bool> asymmetric_fence{false};

// What the last collector found: 0 = fine, 1 = more than kSoftObjects objects pending
// (each write yields once: backpressure that lets a preempted reader run and leave its
// Guard), 2 = over the byte limit (writers wait in throttle()).
std::atomic<int> pressure{0};

namespace {

// The registry: a push-only lock-free list of records (invariant 3). Never freed, so a
// scanner may walk it at any time; records stay reachable for leak checkers.
std::atomic<ThreadRecord*> registry_head{nullptr};
std::atomic<std::uint64_t> next_index{0};

// Invariant 5: set while one thread advances the epoch.
std::atomic<bool> advancing{false};
// The garbage bound, and whether the last collector found all garbage over it.
std::atomic<std::size_t> garbage_limit_bytes{kDefaultGarbageLimit};
constexpr std::size_t kSoftObjects = 4096;

// reclaim_stats(): relaxed counters, added to once per freeing pass (not per entry).
std::atomic<std::uint64_t> stat_examined{0};
std::atomic<std::uint64_t> stat_moved{0};
std::atomic<std::uint64_t> stat_freed{0};
std::atomic<std::uint64_t> stat_stolen{0};

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

// Frees the prefix of `record`'s list that invariant 2 allows, at most `budget`
// objects (invariant 7: the list is ordered by epoch, so the first entry kept ends the
// pass). The caller may touch the list: its owner inside a Guard, or a stealer holding
// the flag. Returns the objects freed.
std::size_t free_prefix(ThreadRecord& record, std::size_t budget) noexcept {
  // acquire: pairs with the release/acq_rel that advanced the epoch, so the
  // departures of the readers it waited for happen-before our frees.
  const std::uint64_t now = global_epoch.load(std::memory_order_acquire);
  std::vector<Retired>& items = record.limbo;
  std::size_t head = record.limbo_head;
  const std::size_t end = items.size();
  std::size_t freed = 0;
  std::size_t freed_bytes = 0;
  while (head < end && freed < budget && items[head].epoch + 2 <= now) {
    items[head].deleter(items[head].object);
    freed_bytes += items[head].bytes;
    ++head;
    ++freed;
  }
  // Entries looked at: the ones freed, and the one that ended the pass (if any).
  const std::uint64_t examined = freed + (head < end && freed < budget ? 1 : 0);
  std::uint64_t moved = 0;
  if (head == end) {
    items.clear();  // keeps the capacity
    head = 0;
  } else if (head * 2 >= end) {
    // At least half the list is freed: compact (moves fewer entries than were freed
    // since the last compaction, so it stays linear; never allocates).
    moved = end - head;
    items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }
  record.limbo_head = head;
  // relaxed: monitoring values; the handshake (or ownership) orders their writers.
  record.limbo_count.store(items.size() - head, std::memory_order_relaxed);
  if (freed_bytes != 0) {
    record.limbo_bytes.store(record.limbo_bytes.load(std::memory_order_relaxed) - freed_bytes,
                             std::memory_order_relaxed);
  }
  // relaxed: statistics (reclaim_stats()); one add per pass.
  stat_examined.fetch_add(examined, std::memory_order_relaxed);
  if (moved != 0) stat_moved.fetch_add(moved, std::memory_order_relaxed);
  if (freed != 0) stat_freed.fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

void detach(ThreadRecord* record) noexcept {
  // The thread is exiting, outside every Guard (Guards are scoped). Its garbage stays
  // in its record: any thread frees it (steal_idle()), or the record's next owner.
  // relaxed: a hint (the list itself may be read only inside the Guard below).
  if (record->limbo_count.load(std::memory_order_relaxed) != 0) {
    try {
      Guard guard;  // the list is touched only inside a Guard (epoch.hpp)
      claim_list(*record);
      free_prefix(*record, SIZE_MAX);
    } catch (...) {
      // Cannot happen (the thread is attached); leave the list to the others.
    }
  }
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

void wait_for_stealer(ThreadRecord& record) noexcept {
  // seq_cst (and acquire): the stealer's release of the flag orders its frees and its
  // edits of the list before ours.
  while (record.stealing.load(std::memory_order_seq_cst)) std::this_thread::yield();
}

namespace {

// Sets the pressure that throttle() reads, from the totals. Raises it to 2, but never
// lowers it from 2: only throttle() does, after it has freed and found the total under
// the bound. (A collect that lowered it could overwrite, with a total read a moment
// earlier, another collect's 2: writers would then run a whole collect's worth each
// past the bound before the next collect caught it.)
void judge_pressure(bool stuck) noexcept {
  // relaxed: a hint for throttle(), which checks again before it lets a writer wait.
  int now = 0;
  if (pending_bytes() > garbage_limit_bytes.load(std::memory_order_relaxed)) {
    now = 2;
  } else if (stuck && pending() > kSoftObjects) {
    now = 1;
  }
  const int was = pressure.load(std::memory_order_relaxed);
  if (now != was && (now == 2 || was != 2)) pressure.store(now, std::memory_order_relaxed);
}

}  // namespace

void collect(ThreadRecord& record) noexcept {
  try_advance();
  free_prefix(record, kFreeBudget);
  const std::size_t count = record.limbo.size() - record.limbo_head;
  record.collect_at_count = count + kCollectThreshold;
  record.collect_at_bytes = record.limbo_bytes.load(std::memory_order_relaxed) + kCollectBytes;
  // Stuck: the epoch has not moved across this thread's last kCollectThreshold
  // retirements, so a reader holds it back (garbage merely in flight is no pressure).
  // relaxed: a hint; try_advance() and the frees order what matters.
  const std::uint64_t epoch_now = global_epoch.load(std::memory_order_relaxed);
  const bool stuck = epoch_now == record.epoch_at_collect;
  record.epoch_at_collect = epoch_now;
  judge_pressure(stuck);
}

std::size_t steal_idle(std::size_t budget) noexcept {
  ThreadRecord* self = tls_record;
  // 1. Claim: raise the flag of every other record that visibly holds garbage and whose
  //    owner is visibly outside every Guard. The raised flags chain the batch.
  ThreadRecord* batch = nullptr;
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    // relaxed: hints; the handshake below decides.
    if (r == self || r->limbo_count.load(std::memory_order_relaxed) == 0 ||
        r->announced.load(std::memory_order_relaxed) != 0) {
      continue;
    }
    // seq_cst: the stealer's half of the handshake (raise the flag, then load the
    // announcement); acquire part: a previous stealer's release of this flag orders
    // its edits of the list before ours.
    if (r->stealing.exchange(true, std::memory_order_seq_cst)) continue;  // another stealer
    r->steal_next = batch;
    batch = r;
  }
  if (batch == nullptr) return 0;
  // 2. One heavy fence for the batch: an owner whose announcement it does not show
  //    will see its flag raised (claim_list()) and wait for us.
  const bool fenced = heavy_fence();
  // 3. Free from the lists whose owners are still outside, then drop the flags.
  std::size_t freed = 0;
  while (batch != nullptr) {
    ThreadRecord* r = batch;
    batch = r->steal_next;
    // seq_cst: the handshake; acquire part: the owner's release of 0 on leaving its
    // Guard orders its edits of the list before ours.
    if (fenced && r->announced.load(std::memory_order_seq_cst) == 0) {
      freed += free_prefix(*r, budget);
    }
    // release: our edits of the list happen-before the owner's next claim_list().
    r->stealing.store(false, std::memory_order_release);
  }
  // relaxed: a statistic.
  if (freed != 0) stat_stolen.fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

namespace internal {

void reserve_outside_guard(std::size_t count) {
  Guard guard;  // may throw bad_alloc (attaching): nothing changed
  ThreadRecord& record = *tls_record;
  claim_list(record);
  reserve_claimed(record, count);
}

void retire_outside_guard(void* object, Deleter deleter, std::size_t bytes) noexcept {
  // Attached (by reserve()), so the Guard cannot throw.
  Guard guard;
  retire(object, deleter, bytes);
}

}  // namespace internal

ReclaimStats reclaim_stats() noexcept {
  // relaxed: statistics.
  return ReclaimStats{
      stat_examined.load(std::memory_order_relaxed), stat_moved.load(std::memory_order_relaxed),
      stat_freed.load(std::memory_order_relaxed), stat_stolen.load(std::memory_order_relaxed)};
}

std::size_t garbage_limit() noexcept { return garbage_limit_bytes.load(std::memory_order_relaxed); }

void set_garbage_limit(std::size_t bytes) noexcept {
  // relaxed: a setting read by collectors; exactness in time is not needed.
  garbage_limit_bytes.store(bytes, std::memory_order_relaxed);
}

namespace {

// Frees from the calling thread's own list (inside a Guard of its own, so no stealer
// touches it meanwhile). Returns the objects freed.
std::size_t collect_own_outside_guard(ThreadRecord& record, std::size_t budget) noexcept {
  // relaxed: owner-written value read by its owner.
  if (record.limbo_count.load(std::memory_order_relaxed) == 0) return 0;
  Guard guard;  // attached: cannot throw
  claim_list(record);
  return free_prefix(record, budget);
}

}  // namespace

void throttle_slow(int level) noexcept {
  ThreadRecord* record = tls_record;
  if (record != nullptr && record->nesting != 0) return;  // inside a Guard: cannot wait
  if (level == 1) {
    std::this_thread::yield();  // backpressure only
    return;
  }
  auto pause = std::chrono::microseconds(1);
  for (int round = 0;; ++round) {
    try_advance();
    std::size_t freed = 0;
    if (record != nullptr) freed += collect_own_outside_guard(*record, kFreeBudget);
    freed += steal_idle(kFreeBudget);
    if (pending_bytes() <= garbage_limit_bytes.load(std::memory_order_relaxed)) {
      // relaxed: a hint; the next collect judges again.
      pressure.store(0, std::memory_order_relaxed);
      return;
    }
    if (freed != 0) {
      round = 0;  // progress: free more before waiting
      continue;
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
  std::size_t total = 0;
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    total += r->limbo_count.load(std::memory_order_relaxed);  // relaxed: monitoring
  }
  return total;
}

std::size_t pending_bytes() noexcept {
  std::size_t total = 0;
  for (ThreadRecord* r = registry_head.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    total += r->limbo_bytes.load(std::memory_order_relaxed);  // relaxed: monitoring
  }
  return total;
}

std::size_t drain() noexcept {
  ThreadRecord* record = tls_record;
  // Three advances move every object retired so far past its grace period (E + 2),
  // unless some thread is inside a Guard.
  for (int i = 0; i < 3; ++i) try_advance();
  if (record != nullptr) {
    if (record->nesting == 0) {
      collect_own_outside_guard(*record, SIZE_MAX);
    } else {
      claim_list(*record);
      free_prefix(*record, SIZE_MAX);
    }
  }
  steal_idle(SIZE_MAX);
  return pending();
}

}  // namespace vkv::detail::epoch
