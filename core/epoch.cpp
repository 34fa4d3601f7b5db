// Epoch-based reclamation: the slow paths (attach/detach, advancing, freeing).
// See include/vkv/detail/epoch.hpp for the invariants.
#include "vkv/detail/epoch.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace vkv::detail::epoch {

std::atomic<std::uint64_t> global_epoch{1};
std::atomic<bool> asymmetric_fence{false};

namespace {

// The registry: a push-only lock-free list of records (invariant 3). Never freed, so a
// scanner may walk it at any time; records stay reachable for leak checkers.
std::atomic<ThreadRecord*> registry_head{nullptr};
std::atomic<std::uint64_t> next_index{0};

// Garbage of exited threads. Touched only when a thread exits and, with try_lock,
// when a thread collects: never on a hot path.
struct Orphans {
  std::mutex mutex;
  std::vector<Retired> items;
  std::atomic<std::size_t> count{0};
  std::atomic<std::size_t> bytes{0};
};
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
void heavy_fence() noexcept {
  if (asymmetric_fence.load(std::memory_order_relaxed)) {
    syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
  }
#if defined(VKV_UNDER_TSAN)
  // A seq_cst read-modify-write: joins the single total order with the readers'
  // seq_cst announcements (see VKV_UNDER_TSAN in epoch.hpp).
  global_epoch.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// Frees the entries of `items` that invariant 2 allows; keeps the rest in order.
// Returns the bytes freed.
std::size_t free_eligible(std::vector<Retired>& items, std::size_t& freed_count) noexcept {
  // acquire: pairs with the release/acq_rel that advanced the epoch, so the
  // departures of the readers it waited for happen-before our frees.
  const std::uint64_t now = global_epoch.load(std::memory_order_acquire);
  std::size_t freed_bytes = 0;
  auto keep = std::remove_if(items.begin(), items.end(), [&](const Retired& r) {
    if (r.epoch + 2 > now) return false;
    r.deleter(r.object);
    freed_bytes += r.bytes;
    ++freed_count;
    return true;
  });
  items.erase(keep, items.end());
  return freed_bytes;
}

void collect_orphans(bool wait) noexcept {
  Orphans& o = orphans();
  std::unique_lock lock(o.mutex, std::defer_lock);
  if (wait) {
    lock.lock();
  } else if (!lock.try_lock()) {
    return;
  }
  std::size_t freed = 0;
  const std::size_t bytes = free_eligible(o.items, freed);
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

struct DetachOnExit {
  ~DetachOnExit() {
    if (ThreadRecord* record = tls_record) detach(record);
  }
};

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
  static thread_local DetachOnExit detach_on_exit;  // constructed here, on first use
  (void)&detach_on_exit;

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
  std::uint64_t epoch = global_epoch.load(std::memory_order_acquire);
  // Without a fence first: an announcement we can already see to be behind blocks the
  // advance whatever the fence would show (returning false frees nothing, so a stale
  // view can only delay reclamation, never break it).
  if (some_reader_behind(epoch)) return false;
  heavy_fence();
  if (some_reader_behind(epoch)) return false;
  // acq_rel: publishes the new epoch after the scan; a failure means another thread
  // advanced it, which is as good.
  global_epoch.compare_exchange_strong(epoch, epoch + 1, std::memory_order_acq_rel,
                                       std::memory_order_relaxed);
  return true;
}

void collect(ThreadRecord& record) noexcept {
  if (record.advance_skip > 0) {
    --record.advance_skip;
  } else if (try_advance()) {
    record.advance_backoff = 0;
  } else {
    // Blocked: skip 1, 2, 4 .. 32 retirements before the next try (owner-only fields).
    record.advance_backoff =
        record.advance_backoff == 0 ? 1 : std::min(record.advance_backoff * 2, 32u);
    record.advance_skip = record.advance_backoff;
  }
  // acquire: as in free_eligible. A scan under the epoch of the last scan frees nothing:
  // everything retired since then carries that epoch or a later one.
  const std::uint64_t now = global_epoch.load(std::memory_order_acquire);
  if (now != record.scanned_epoch) {
    record.scanned_epoch = now;
    collect_own(record);
    // relaxed: a hint; collect_orphans takes the orphans' lock before touching them.
    if (orphans().count.load(std::memory_order_relaxed) != 0) collect_orphans(/*wait=*/false);
  } else if (record.limbo.size() >= kYieldThreshold) {
    std::this_thread::yield();  // backpressure: let the reader holding the epoch run
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
