// Internal (users never include this directly): epoch-based memory reclamation.
//
// Why epochs: a reader pays one store to a thread-private cache line on entry and one
// on exit, whatever it reads inside; hazard pointers would need a store and a fence
// per pointer read, RCU (liburcu) would ask users to register threads. The measured
// costs are in docs/design.md ("Reclamation") and bench/reclaim_benchmark.cpp.
//
// Thread safety
//   Every function here may be called from any thread at any time. A thread is
//   attached on its first call (no registration asked of users) and detached by a
//   thread-exit hook (registered again if the thread comes back after it, e.g. from a
//   user thread_local's destructor). Each thread record keeps its own list of retired
//   objects ("limbo"); there is no shared list. A thread that exits leaves its list in
//   its record, and a thread that parks keeps its list: either way any other thread
//   may free it (steal_idle() below, from throttle() and drain()), so garbage of idle
//   or exited threads never holds the bound against writers.
//
// Who touches a record's list (limbo, limbo_head, limbo_count, limbo_bytes):
//   - its owner, only while inside a Guard (retire() and reserve() called outside one
//     enter one), after it has seen `stealing` clear (claim_list());
//   - another thread, only while it holds the record's `stealing` flag and saw the
//     record's `announced` at 0 after raising the flag (a Dekker handshake: the owner
//     announces, then loads the flag; the stealer raises the flag, fences, then loads
//     the announcement; the total order of seq_cst operations, or membarrier, makes at
//     least one of them see the other). Readers never look at the flag: a Guard never
//     waits. An owner that meets a raised flag in retire()/reserve() waits for it to
//     drop: the stealer holds it for at most kFreeBudget frees.
//
// Bounds: garbage (retired, not yet freed, all threads) is bounded in bytes by
//   garbage_limit() (default kDefaultGarbageLimit, set_garbage_limit()). Past it, every
//   write (single-record writes, create, commit) waits in throttle(), before the write
//   and outside any Guard, until collection (its own list, then other threads' idle
//   lists) brings it back under: for as long as a reader stays inside a Guard. Readers
//   never wait. The slack: a thread notices the bound at its next collect, so the total
//   can pass the bound by up to kCollectBytes plus one operation's retirements per
//   writing thread (tests/epoch/garbage_commit_test.cpp holds it with a parked reader).
//   Only throttle() lowers the flag, after freeing, from a total it has just read; a
//   collect that raised it meanwhile is overwritten, so where frees and the bound race
//   a writer may run up to one more collect's worth before the flag is raised again:
//   2 x kCollectBytes plus one operation per writing thread in all.
//
// Invariants:
//   1. global_epoch only grows, by one at a time, and only when every thread that is
//      inside a Guard has announced the current global epoch.
//   2. An object retired while global_epoch read E (read after it was unlinked) is
//      freed only once global_epoch >= E + 2: every thread that could have loaded a
//      pointer to it has left the Guard it loaded it in.
//   3. A ThreadRecord is never freed; it is owned by at most one live thread at a time
//      (in_use). Its list is touched only as described above; its other owner-only
//      fields need no atomics.
//   4. Retiring never allocates: callers reserve() capacity before the compare-and-swap
//      that unlinks, so nothing can fail after a write has been committed. Nothing
//      reachable from retire() or collect() allocates (collecting frees, it never moves
//      a list anywhere).
//   5. At most one thread advances the epoch at a time (`advancing`), so the heavy
//      fence (membarrier) is paid once per advance, not once per collecting thread.
//   6. The unlinking store of an object is seq_cst, or followed by a seq_cst fence,
//      before retire() loads the epoch (seq_cst), so the unlink precedes that load
//      in the single total order that the readers' announcements are part of.
//   7. A list is ordered by epoch (retire() appends the epoch it reads, which only
//      grows), so freeing takes a prefix: a pass examines at most one entry it does
//      not free, and compacts the list only once at least half of it is freed (moving
//      fewer entries than were freed since the last compaction). Reclaiming is linear
//      in what is freed (reclaim_stats(), tests/epoch/garbage_drain_test.cpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

// ThreadSanitizer does not model fences (and g++ rejects atomic_thread_fence under
// -fsanitize=thread): there, the store-load orderings below use seq_cst
// read-modify-writes and loads instead, which TSan understands and which give the
// same guarantee.
#if defined(__SANITIZE_THREAD__)
#define VKV_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VKV_UNDER_TSAN 1
#endif
#endif

namespace vkv::detail::epoch {

using Deleter = void (*)(void*) noexcept;

// Objects (or bytes) a thread retires between two attempts to advance and free.
inline constexpr std::size_t kCollectThreshold = 128;
inline constexpr std::size_t kCollectBytes = 256 * 1024;
// The most objects one collect frees from one list (its time budget: ~512 frees into
// the node pool), and the most a stealer frees from one idle list while it holds that
// list's flag (what the list's owner may have to wait for).
inline constexpr std::size_t kFreeBudget = 4 * kCollectThreshold;

struct Retired {
  void* object;
  Deleter deleter;
  std::uint64_t epoch;  // global_epoch read after the object was unlinked
  std::size_t bytes;    // for pending_bytes(); not needed to free
};

// One per attached thread (reused after the thread exits).
struct alignas(64) ThreadRecord {
  // Written only by the owner; read by threads trying to advance the epoch and by
  // stealers. 0 = outside any Guard; otherwise (epoch << 1) | 1.
  std::atomic<std::uint64_t> announced{0};
  // Raised by a thread that frees this record's list for it (steal_idle()); see
  // "Who touches a record's list". Rarely written: on the owner's line on purpose, so
  // the owner's check costs no extra cache miss.
  std::atomic<bool> stealing{false};
  // Written by whoever may touch the list (plain relaxed stores, no read-modify-write:
  // the handshake orders the writers), read by pending() / pending_bytes().
  std::atomic<std::size_t> limbo_count{0};
  std::atomic<std::size_t> limbo_bytes{0};

  alignas(64) unsigned nesting = 0;  // owner-only from here on, except the list
  // The list: entries [limbo_head, limbo.size()) are pending, ordered by epoch
  // (invariant 7). Freed entries below limbo_head are compacted away lazily.
  std::vector<Retired> limbo;
  std::size_t limbo_head = 0;
  ThreadRecord* steal_next = nullptr;  // a stealer's batch; written by the flag holder
  std::uint64_t version_counter = 0;   // see detail/version_generator.hpp
  // collect() bookkeeping: retire() collects once the list reaches either mark; collect()
  // sets them kCollectThreshold objects / kCollectBytes bytes above what it left, so
  // a thread tries to advance the epoch (a membarrier) at most once per that many.
  std::size_t collect_at_count = kCollectThreshold;
  std::size_t collect_at_bytes = kCollectBytes;
  // The global epoch at this thread's previous collect: unchanged at the next one means
  // the epoch stood still across kCollectThreshold retirements (a reader holds it).
  std::uint64_t epoch_at_collect = 0;
  std::uint64_t index = 0;  // dense and unique: 0, 1, 2, ... never reused by another record
  // Recycled node memory by block size (detail/node_pool.hpp); owner-only. Blocks stay
  // with the record when its thread exits and serve the record's next owner.
  struct FreeList {
    std::size_t bytes = 0;  // 0: this list is unused
    void* head = nullptr;   // blocks linked through their first word
    std::uint32_t count = 0;
  };
  FreeList free_lists[4];

  std::atomic<bool> in_use{true};  // acquire/release hand-over between owners
  ThreadRecord* next = nullptr;    // registry link, set before publication, never changed
};

// How a thread's announcement is ordered before its loads of shared pointers.
// symmetric: a seq_cst fence on every outermost Guard entry.
// asymmetric: only a compiler fence on entry; the (rare) thread that advances the
//   epoch runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes every running
//   thread of the process execute a full barrier (the scheme of liburcu's "memb"
//   flavour and folly's asymmetric fences). Used when the kernel supports it, unless
//   VKV_EPOCH_FENCE=symmetric is set or the build is under ThreadSanitizer (which does
//   not model membarrier).
enum class FenceMode { symmetric, asymmetric };
FenceMode fence_mode() noexcept;
// For benchmarks and tests: switch modes. Only while no other thread uses vkv.
void set_fence_mode(FenceMode mode);

extern std::atomic<std::uint64_t> global_epoch;

// Invariant 6 for unlinks that are not seq_cst themselves (an index entry erased by
// the map under its locks, a lookup table replaced): call between unlink and retire().
inline void unlink_fence() noexcept {
#if defined(VKV_UNDER_TSAN)
  global_epoch.fetch_add(0, std::memory_order_seq_cst);  // TSan does not model fences
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}
// Written once at start-up (and by set_fence_mode), read relaxed on every Guard entry.
extern std::atomic<bool> asymmetric_fence;

inline constinit thread_local ThreadRecord* tls_record = nullptr;

// Slow path: attach this thread (reuse a free record or make one). May throw bad_alloc.
ThreadRecord* attach_thread();

inline ThreadRecord& this_thread() {
  ThreadRecord* record = tls_record;
  if (record == nullptr) [[unlikely]] {
    record = attach_thread();
  }
  return *record;
}

// The calling thread's record index: unique among live threads, dense from 0.
inline std::uint64_t this_thread_index() { return this_thread().index; }

// Tries to advance global_epoch by one; false if some thread inside a Guard has not
// yet announced the current epoch. First looks at the announcements without a fence,
// and gives up at once if one is visibly behind (the fence could not change that
// answer): a blocked epoch costs a scan of the registry, not a membarrier() each.
bool try_advance() noexcept;
// Frees what the calling thread's own list may free (at most kFreeBudget objects) and
// sets the pressure that throttle() reads. The caller is the record's owner, inside a
// Guard, and has claimed its list (claim_list()).
void collect(ThreadRecord& record) noexcept;

// Slow path of claim_list(): waits (yielding) until a stealer drops the flag.
void wait_for_stealer(ThreadRecord& record) noexcept;

// Called by the owner, inside a Guard, before it touches its own list: after this, no
// stealer touches the list until the owner leaves its outermost Guard.
inline void claim_list(ThreadRecord& record) noexcept {
  // seq_cst: the owner's half of the handshake (announce, then load the flag) must not
  // be reordered with the announcement; it also acquires the stealer's release.
  if (record.stealing.load(std::memory_order_seq_cst)) [[unlikely]] {
    wait_for_stealer(record);
  }
}

// Frees idle threads' lists: for each other record with garbage whose owner is outside
// every Guard (parked, between operations, or exited), raises its flag, then (one heavy
// fence for the batch) frees what the epoch allows from the lists whose owners are
// still outside, at most `budget` objects from each. Returns the objects freed. Never
// waits for an owner; an owner that comes back meanwhile waits in claim_list() for at
// most `budget` frees.
std::size_t steal_idle(std::size_t budget) noexcept;

// Test and monitoring hook: work done by reclamation since start-up, to show that
// freeing is linear (invariant 7). examined = entries looked at (freed or not);
// moved = entries moved by compaction; freed = objects freed; stolen = those of them
// freed from another thread's list (steal_idle()). Relaxed counters.
struct ReclaimStats {
  std::uint64_t examined = 0;
  std::uint64_t moved = 0;
  std::uint64_t freed = 0;
  std::uint64_t stolen = 0;
};
ReclaimStats reclaim_stats() noexcept;

// Default bound on all garbage, in bytes (see Bounds above).
inline constexpr std::size_t kDefaultGarbageLimit = std::size_t{64} << 20;
std::size_t garbage_limit() noexcept;
void set_garbage_limit(std::size_t bytes) noexcept;
// Writers call this before a write (single-record writes, create, commit), outside any
// Guard: returns at once unless the last collector found the epoch stuck (it had not
// moved since that thread's previous collect) with more than 4096 objects pending (then
// it yields once: backpressure that lets a preempted reader leave its Guard) or all
// garbage over garbage_limit() (then it frees what it can from its own list and idle
// threads' lists and, while still over it, waits: yielding, then sleeping up to 1 ms at
// a time). Inside a Guard it returns at once (waiting there could wait for itself).
// Never throws. The test of the pressure is inline (one relaxed load and a compare per
// write: tools/icount.sh); the rest is throttle_slow().
extern std::atomic<int> pressure;  // src/vkv/epoch.cpp says what its values mean
void throttle_slow(int level) noexcept;
inline void throttle() noexcept {
  // relaxed: a hint, set by collectors; a stale 0 lets one more write through.
  const int level = pressure.load(std::memory_order_relaxed);
  if (level != 0) [[unlikely]] {
    throttle_slow(level);
  }
}

// While a Guard lives, nothing retired can be freed under the calling thread: it may
// load shared pointers and dereference them. Guards nest (only the outermost one
// announces). A Guard never blocks. It is held across one user callback only: visit's
// (docs/design.md, "Reclamation"), which is what makes visit zero-copy.
class Guard {
 public:
  Guard() : record_(this_thread()) {
    if (record_.nesting++ == 0) {
      // acquire: pairs with the acq_rel advance, so what was unlinked before the epoch
      // we announce is not seen by our later loads even on weakly ordered machines.
      const std::uint64_t epoch = global_epoch.load(std::memory_order_acquire);
      if (asymmetric_fence.load(std::memory_order_relaxed)) {
        // Relaxed store + compiler fence: the epoch-advancing thread's membarrier()
        // orders this store before our later loads (see FenceMode).
        record_.announced.store((epoch << 1) | 1, std::memory_order_relaxed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
      } else {
        // The announcement must be ordered before our later loads of shared pointers
        // (store-load ordering): a seq_cst fence, pairing with the one in try_advance().
#if defined(VKV_UNDER_TSAN)
        record_.announced.exchange((epoch << 1) | 1, std::memory_order_seq_cst);
#else
        record_.announced.store((epoch << 1) | 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
      }
    }
  }
  ~Guard() {
    if (--record_.nesting == 0) {
      // release: everything we read under the Guard happens-before a thread that
      // observes 0 (acquire) and then frees.
      record_.announced.store(0, std::memory_order_release);
    }
  }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  ThreadRecord& record_;
};

namespace internal {
// retire() / reserve() called outside any Guard: enter one (so the list is ours) and
// do the work there.
void reserve_outside_guard(std::size_t count);
void retire_outside_guard(void* object, Deleter deleter, std::size_t bytes) noexcept;

inline void reserve_claimed(ThreadRecord& record, std::size_t count) {
  // Freed entries below limbo_head are compacted away by collecting (less than half
  // the list at any time, invariant 7); here the list only grows.
  const std::size_t needed = record.limbo.size() + count;
  if (needed <= record.limbo.capacity()) [[likely]] {
    return;
  }
  std::size_t grown = record.limbo.capacity() * 2;
  if (grown < kCollectThreshold * 2) grown = kCollectThreshold * 2;
  record.limbo.reserve(grown < needed ? needed : grown);
}
}  // namespace internal

// Ensures the calling thread can retire `count` more objects without allocating.
// Call before the compare-and-swap that unlinks them, inside the Guard that retires
// them (outside one it works, but the capacity may have been spent by then only if a
// retire() in between used it). May throw std::bad_alloc (and then nothing has
// changed).
[[gnu::always_inline]] inline void reserve(std::size_t count) {
  ThreadRecord& record = this_thread();
  if (record.nesting == 0) [[unlikely]] {
    internal::reserve_outside_guard(count);
    return;
  }
  claim_list(record);
  // The common case, inline: the room is there already.
  if (record.limbo.size() + count <= record.limbo.capacity()) [[likely]] {
    return;
  }
  internal::reserve_claimed(record, count);
}

// Hands `object` over for freeing with `deleter` once no Guard can still see it.
// The object must already be unreachable for new readers. Never allocates: the
// capacity was reserved (invariant 4).
inline void retire(void* object, Deleter deleter, std::size_t bytes) noexcept {
  ThreadRecord& record = *tls_record;  // attached by reserve()
  if (record.nesting == 0) [[unlikely]] {
    internal::retire_outside_guard(object, deleter, bytes);
    return;
  }
  claim_list(record);
  if (record.limbo.size() == record.limbo.capacity()) [[unlikely]] {
    // Only reached if a caller broke invariant 4. Out of memory here, leaking the
    // object is the one safe choice: freeing it now could pull it from under a reader.
    try {
      internal::reserve_claimed(record, 1);
    } catch (...) {
      return;
    }
  }
  // seq_cst: the epoch is read after the unlinking compare-and-swap (which precedes
  // this call in program order) and takes part in the same total order as the
  // announcements and try_advance's fence.
  // (invariant 6: the unlink is seq_cst or fenced, so it precedes this load in S.)
  record.limbo.push_back({object, deleter, global_epoch.load(std::memory_order_seq_cst), bytes});
  const std::size_t count = record.limbo.size() - record.limbo_head;
  // relaxed: monitoring values; the handshake orders their writers.
  record.limbo_count.store(count, std::memory_order_relaxed);
  const std::size_t held = record.limbo_bytes.load(std::memory_order_relaxed) + bytes;
  record.limbo_bytes.store(held, std::memory_order_relaxed);
  // Every retirement past the threshold (in objects or bytes) collects: it tries to
  // push the epoch unless another thread is advancing it (invariant 5), frees what
  // the epoch allows (at most kFreeBudget objects), and raises the pressure that makes
  // writers wait in throttle() if all garbage is over the bound.
  if (count >= record.collect_at_count || held >= record.collect_at_bytes) {
    collect(record);
  }
}

// retire() for an object made by `new`: freed by `delete`, counted as `bytes` (by
// default its size; an object that owns heap memory passes what it holds in all).
template <class U>
void retire(U* object, std::size_t bytes = sizeof(U)) noexcept {
  retire(
      object, [](void* p) noexcept { delete static_cast<U*>(p); }, bytes);
}

// Monitoring: objects retired and not yet freed, over all threads (live or exited; a
// racy but never torn sum), and their bytes.
std::size_t pending() noexcept;
std::size_t pending_bytes() noexcept;

// For tests and shutdown: advances the epoch and frees everything the calling thread
// and every thread outside a Guard hold, as far as other threads' Guards allow.
// Returns what is still pending afterwards over all threads. With no other thread
// inside a Guard (or retiring meanwhile), it returns 0.
std::size_t drain() noexcept;

}  // namespace vkv::detail::epoch
