// Internal (users never include this directly): the descriptor of an atomic
// multi-record commit, and the protocol that every thread meeting one follows.
//
// A commit of k entries is a lock-free multi-word compare-and-swap with helping over k
// record slots (Harris, Fraser & Pratt 2002, "A practical multi-word compare-and-swap";
// Fraser 2004, ch. 4). The full argument is in docs/commits.md.
//   0. The owner reads every entry's record (read-through, no writes) and fixes, in the
//      descriptor, each entry's expected node, its version and its desired node. Entries
//      are kept sorted by slot address: the one global order every installer follows.
//   1. Install: in that order, each slot's expected node is replaced by a tagged pointer
//      to the entry (expected -> entry). Anyone may install: the owner, or a thread that
//      met one of the entries (a helper). A slot holding another node, or another
//      commit's entry over another node, or a key now in another slot, decides failed.
//      Another commit's entry over the same node: that commit is helped first.
//   2. Decide: status undecided -> succeeded (every entry installed) or -> failed (a
//      slot no longer held its expected node: a real version change), by one CAS.
//   3. Release: each entry is replaced by the node the decision selects.
//
// Thread safety
//   Every function may run concurrently with the owner and with other helpers; callers
//   hold an epoch::Guard.
//
// Invariants (these replace RecordSlot's invariant 5, written for owner-only
// installation: entries are installed by the owner or by helpers, over the entry's
// expected node only, and an install that lands after the decision is undone by the
// thread that made it):
//   1. status moves once, from undecided to succeeded or failed (compare-and-swap).
//   2. While status is undecided, an installed entry stays in its slot, and the
//      installed entries are a prefix of the install order. Success is decided only by
//      a thread that saw every entry installed, failure only by one that saw, while
//      undecided, an entry's record in another state than its expected node (another
//      node or nullptr in the slot, another commit's entry over another node, the key
//      gone or in another slot).
//   3. A node, once replaced as a record's logical state, never becomes it again. So an
//      entry that fails stays failed, and an entry seen at its expected version twice
//      held that version in between.
//   4. Helpers reach slots only through the index under their own Guard (find_slot),
//      never through pointers the owner found; they compare versions, not addresses
//      that may have been freed and reused (docs/commits.md, "The slot hazard"). A
//      looked-up slot whose address is not the owner's (entry.slot) decides failed, so
//      every install of an entry lands at the owner's address, in the owner's order.
//   5. A descriptor's entry word is in a slot only while some thread holding a
//      reference (refs) is bound to remove it: the owner until its release pass, a
//      helper until it has undone an install that came after the decision. The last
//      reference retires the descriptor, so no thread meets a retired descriptor.
//   6. Only the owner retires replaced nodes, once, after success; helpers never
//      retire nodes. A reader never writes: it reads through an entry (succeeded:
//      desired, else expected).
//   7. A thread helps another commit only while it and every commit it helps for are
//      undecided, and only a commit whose entry covers the node its own entry expects.
//      So the commits helped on one stack climb strictly in slot address and are
//      distinct and all undecided at one instant: the nesting is at most as deep as the
//      number of other threads inside a commit (docs/commits.md, "The helping order").
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <thread>
#include <vector>

#include "vkv/detail/epoch.hpp"
#include "vkv/detail/record_slot.hpp"
#include "vkv/version.hpp"

namespace vkv::detail {

enum class TxStatus : int { undecided, succeeded, failed };

template <class T>
struct TxDescriptor;

template <class T>
struct alignas(8) TxEntry {
  TxDescriptor<T>* owner = nullptr;
  Node<T>* expected = nullptr;  // the record's node when the owner read it
  Node<T>* desired = nullptr;   // the state once committed (== expected for a check,
                                // nullptr for an erase)
  Version expected_version;     // expected's version: helpers compare this (invariant 4)
  // The slot the owner read expected from. Helpers compare its address with the slot
  // they look up and never dereference it (docs/commits.md, "The slot hazard").
  const RecordSlot<T>* slot = nullptr;
};

// What this thread did for commits, for tests and benchmarks (plain thread-local
// counts: no allocation, no sharing).
struct TxProbe {
  std::uint64_t attempts = 0;  // commit attempts made as owner
  std::uint64_t helps = 0;     // other threads' undecided commits helped
  std::uint64_t deepest = 0;   // the most helps ever nested on this thread's stack
};
inline constinit thread_local TxProbe tx_probe{};

template <class T>
struct TxDescriptor {
  // Entry j's slot, looked up through the index under the caller's Guard (nullptr if
  // the key is gone). Stored by the owner; helpers' only way to a slot (invariant 4).
  using FindSlot = const RecordSlot<T>* (*)(const TxDescriptor&, std::size_t);

  TxDescriptor(std::size_t size, FindSlot find) : entries(size), find_slot(find) {
    for (TxEntry<T>& entry : entries) entry.owner = this;
  }
  TxDescriptor(const TxDescriptor&) = delete;
  TxDescriptor& operator=(const TxDescriptor&) = delete;
  virtual ~TxDescriptor() = default;  // retired through this base by helpers
  // The bytes its retirement holds until freed (the garbage bound counts them): itself
  // and its entries; a derived descriptor adds what it owns.
  virtual std::size_t footprint() const noexcept {
    return sizeof(TxDescriptor) + entries.capacity() * sizeof(TxEntry<T>);
  }

  std::atomic<TxStatus> status{TxStatus::undecided};
  std::atomic<std::uint32_t> refs{1};  // the owner's, plus one per helper (invariant 5)
  std::vector<TxEntry<T>> entries;     // in install order (slot address)
  FindSlot find_slot;
};

// Test-only preemption points (tests/commit/commit_protocol_test.cpp). A test that defines
// VKV_TESTING_COMMIT_HOOKS before including any vkv header sets commit_hook<T> on one
// thread to stop that thread at a chosen point of the protocol (it waits there until
// the test releases it) and so injects an interleaving deterministically. Without the
// macro at_commit_point() is an empty inline function: production code has no hook, no
// load, no branch. The macro must be the same in every translation unit of a program.
enum class CommitPoint {
  before_install,  // entry `entry` holds its expected node; the install CAS comes next
  installed,       // entry `entry` was just installed by this thread
  all_installed,   // every entry was seen installed; the deciding CAS comes next
  decided,         // the owner has its decision; its release pass comes next
};

#ifdef VKV_TESTING_COMMIT_HOOKS
template <class T>
struct CommitHook {
  // Called on the thread that set it (thread_local), as owner or as helper.
  void (*call)(void* context, CommitPoint point, const TxDescriptor<T>& descriptor,
               std::size_t entry, bool owner) = nullptr;
  void* context = nullptr;
};
template <class T>
inline thread_local CommitHook<T> commit_hook{};

template <class T>
void at_commit_point(CommitPoint point, const TxDescriptor<T>& descriptor, std::size_t entry,
                     bool owner) noexcept {
  const CommitHook<T> hook = commit_hook<T>;
  if (hook.call != nullptr) hook.call(hook.context, point, descriptor, entry, owner);
}
#else
template <class T>
void at_commit_point(CommitPoint, const TxDescriptor<T>&, std::size_t, bool) noexcept {}
#endif

template <class T>
Node<T>* selected_node(const TxEntry<T>& entry, TxStatus status) noexcept {
  return status == TxStatus::succeeded ? entry.desired : entry.expected;
}

template <class T>
Node<T>* logical_node(std::uintptr_t word) noexcept {
  const TxEntry<T>* entry = word_entry<T>(word);
  // acquire: pairs with the deciding CAS; a success makes desired (published before
  // the first install) the state.
  return selected_node(*entry, entry->owner->status.load(std::memory_order_acquire));
}

// Decides `descriptor` as `target` unless it is decided already; returns the decision.
template <class T>
TxStatus decide_commit(TxDescriptor<T>& descriptor, TxStatus target) noexcept {
  TxStatus status = TxStatus::undecided;
  // seq_cst (all protocol steps): installs, status reads and releases on different
  // words must agree on one order, so that an installer that re-reads `undecided`
  // after its install knows the install came before the decision (docs/commits.md).
  if (descriptor.status.compare_exchange_strong(status, target, std::memory_order_seq_cst)) {
    return target;
  }
  return status;
}

// Replaces `entry` in `slot` by the node `status` selects, if it is still there.
template <class T>
void release_entry(const RecordSlot<T>& slot, TxEntry<T>& entry, TxStatus status) noexcept {
  std::uintptr_t seen = entry_word(&entry);
  // seq_cst: see decide_commit(). A failure means someone else released it.
  slot.word.compare_exchange_strong(seen, node_word(selected_node(entry, status)),
                                    std::memory_order_seq_cst);
}

// Drops one reference; the last one retires the descriptor (capacity reserved by the
// caller: epoch invariant 4).
template <class T>
void drop_reference(TxDescriptor<T>& descriptor) noexcept {
  // acq_rel: every holder's use of the descriptor happens-before the retirement.
  if (descriptor.refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    epoch::retire(&descriptor, descriptor.footprint());  // deleted through the virtual dtor
  }
}

// One commit a thread is working for, in the chain of nested helps on its stack: the
// bottom frame is the thread's own commit (as owner) or the commit it met as a writer;
// each nested help adds a frame above the commit it helps for (docs/commits.md, "The
// helping order").
template <class T>
struct HelpFrame {
  TxDescriptor<T>* descriptor;
  const HelpFrame* below;  // the commit this one is helped for; nullptr at the bottom
  std::uint64_t depth;     // helps nested up to this frame: 0 for an owner's own commit
};

// Whether every commit of the chain from `frame` down is still undecided. A status
// only ever leaves undecided, so then all of them were undecided together, at the
// first load (the innermost commit's).
template <class T>
bool chain_undecided(const HelpFrame<T>& frame) noexcept {
  for (const HelpFrame<T>* f = &frame; f != nullptr; f = f->below) {
    // seq_cst: see decide_commit().
    if (f->descriptor->status.load(std::memory_order_seq_cst) != TxStatus::undecided) {
      return false;
    }
  }
  return true;
}

template <class T>
void help_commit(TxDescriptor<T>& descriptor, std::size_t outstanding, const HelpFrame<T>* below);

// run_commit's way past a slot word `seen` holding another commit's entry, met at our
// entry `entry` of `descriptor`: helps that commit to its decision if it is undecided
// (and may be helped: invariant 7), then replaces its entry by the node its decision
// selects. Returns true when run_commit must return `result` (our decision, or
// undecided for a nested help whose commit below is decided), false to look again.
// Out of memory for helping, it yields instead and lets the caller look again (then it
// waits for others to decide; the helping order still rules out a cycle of waiters).
// Apart from run_commit so that the owner's uncontended path stays small.
template <class T>
bool get_past_entry(TxDescriptor<T>& descriptor, TxEntry<T>& entry, const RecordSlot<T>& slot,
                    std::uintptr_t seen, bool owner, std::size_t outstanding,
                    const HelpFrame<T>* below, TxStatus& result) noexcept {
  TxEntry<T>& theirs = *word_entry<T>(seen);
  TxDescriptor<T>& other = *theirs.owner;
  // seq_cst: see decide_commit().
  if (other.status.load(std::memory_order_seq_cst) == TxStatus::undecided) {
    const HelpFrame<T> frame{&descriptor, below,
                             below != nullptr ? below->depth + 1 : (owner ? 0u : 1u)};
    // Loaded after the word: we (and the commits we help for) still undecided means
    // our entries before this one are still in their slots, so `other` holds this slot
    // and needs only slots above it: helping climbs (docs/commits.md). Otherwise return
    // our decision, or (nested help only) undecided: the commit we help for is decided,
    // so this help is of no use to it any more.
    if (!chain_undecided(frame)) {
      result = descriptor.status.load(std::memory_order_seq_cst);  // seq_cst: as above
      return true;
    }
    // The record's state is other's expected node; if that is not ours, the record
    // changed after our owner read it (invariant 3): fail, do not help.
    if (theirs.expected_version != entry.expected_version) {
      result = decide_commit(descriptor, TxStatus::failed);
      return true;
    }
    try {
      help_commit(other, outstanding, &frame);
    } catch (const std::bad_alloc&) {
      std::this_thread::yield();
      return false;
    }
  }
  // seq_cst: see decide_commit().
  const TxStatus decided = other.status.load(std::memory_order_seq_cst);
  if (decided == TxStatus::undecided) return false;  // its help gave up, or the yield
  // seq_cst: see decide_commit(). seen cannot be a newer descriptor's entry at the same
  // address: we loaded it under our Guard, so its descriptor is not freed meanwhile.
  slot.word.compare_exchange_strong(seen, node_word(selected_node(theirs, decided)),
                                    std::memory_order_seq_cst);
  return false;
}

// Steps 1 and 2 for `descriptor`, from wherever it stands, as owner or as helper;
// returns the decision, or undecided when a nested helper gives up because a commit
// it was helping for (below) is decided already. slot_of(j) is entry j's slot: the
// owner passes the slots it found under its Guard, a helper descriptor.find_slot
// (invariant 4). `outstanding`: retirements the caller has reserved and not yet made
// (nested helping reserves on top). `below`: the chain this is a nested help for
// (nullptr for an owner, or a writer's help). Never allocates, never throws.
template <class T, class SlotOf>
TxStatus run_commit(TxDescriptor<T>& descriptor, SlotOf&& slot_of, bool owner,
                    std::size_t outstanding, const HelpFrame<T>* below = nullptr) noexcept {
  for (std::size_t j = 0; j < descriptor.entries.size(); ++j) {
    TxEntry<T>& entry = descriptor.entries[j];
    const std::uintptr_t mine = entry_word(&entry);
    for (;;) {
      // seq_cst: see decide_commit().
      TxStatus status = descriptor.status.load(std::memory_order_seq_cst);
      if (status != TxStatus::undecided) return status;
      const RecordSlot<T>* slot = slot_of(j);
      // The key is gone, or lives in another slot than the one the owner read (erased
      // and re-created): its record changed after the owner read it. So every slot an
      // installer works on has the owner's address (the helping order relies on it).
      if (slot == nullptr || slot != entry.slot) {
        return decide_commit(descriptor, TxStatus::failed);
      }
      // seq_cst: see decide_commit().
      std::uintptr_t seen = slot->word.load(std::memory_order_seq_cst);
      if (seen == mine) break;  // installed by someone (invariant 2: still undecided)
      if (is_entry_word(seen)) {
        // Another commit holds the slot.
        if (get_past_entry(descriptor, entry, *slot, seen, owner, outstanding, below, status)) {
          return status;
        }
        continue;
      }
      Node<T>* node = word_node<T>(seen);
      // The owner's pointer is safe to compare (its Guard has held expected since it
      // read it); a helper's may name freed and reused memory, so it checks the
      // version of the node it loaded itself (invariant 4).
      if (node != entry.expected || (!owner && node->version != entry.expected_version)) {
        return decide_commit(descriptor, TxStatus::failed);  // a real version change
      }
      at_commit_point(CommitPoint::before_install, descriptor, j, owner);
      // seq_cst: see decide_commit(); release publishes the entry and what it points to.
      if (slot->word.compare_exchange_strong(seen, mine, std::memory_order_seq_cst)) {
        at_commit_point(CommitPoint::installed, descriptor, j, owner);
        if (!owner) {
          // An install after the decision (the slot went back to expected: a failed
          // decision's release, or a check) must not outlive our reference: undo it.
          status = descriptor.status.load(std::memory_order_seq_cst);
          if (status != TxStatus::undecided) {
            release_entry(*slot, entry, status);
            return status;
          }
        }
        break;
      }
    }
  }
  at_commit_point(CommitPoint::all_installed, descriptor, descriptor.entries.size(), owner);
  return decide_commit(descriptor, TxStatus::succeeded);
}

// A thread that met an undecided commit helps it to its decision (or until a commit
// it helps for, below, is decided). May throw std::bad_alloc (reserving room to retire
// the descriptor) before doing anything.
template <class T>
void help_commit(TxDescriptor<T>& descriptor, std::size_t outstanding, const HelpFrame<T>* below) {
  epoch::reserve(outstanding + 1);
  // acquire: the descriptor's fields, written before its first install, are visible.
  std::uint32_t refs = descriptor.refs.load(std::memory_order_acquire);
  do {
    if (refs == 0) return;  // finished and retired: nothing of it is left in any slot
    // acq_rel: as drop_reference(); on failure, acquire reads the current count.
  } while (!descriptor.refs.compare_exchange_weak(refs, refs + 1, std::memory_order_acq_rel,
                                                  std::memory_order_acquire));
  ++tx_probe.helps;
  const std::uint64_t depth = below != nullptr ? below->depth + 1 : 1;
  if (depth > tx_probe.deepest) tx_probe.deepest = depth;
  run_commit(
      descriptor, [&descriptor](std::size_t j) { return descriptor.find_slot(descriptor, j); },
      /*owner=*/false, outstanding + 1, below);
  drop_reference(descriptor);
}

// For writers (RecordSlot::load_for_write): replaces the entry in `word` (seen there as
// `seen`) by the node its commit's decision selects, helping the commit to its
// decision first if it is undecided. Retires nothing (invariant 6). May throw
// std::bad_alloc before changing anything.
template <class T>
void resolve_entry(std::atomic<std::uintptr_t>& word, std::uintptr_t seen) {
  TxEntry<T>* entry = word_entry<T>(seen);
  TxDescriptor<T>& descriptor = *entry->owner;
  // seq_cst: see decide_commit().
  if (descriptor.status.load(std::memory_order_seq_cst) == TxStatus::undecided) {
    help_commit<T>(descriptor, 0, nullptr);
  }
  // Decided now: by our help, or it had finished (refs == 0) before we could join.
  const TxStatus status = descriptor.status.load(std::memory_order_seq_cst);
  // seq_cst: see decide_commit(); a failure means someone else replaced the entry.
  word.compare_exchange_strong(seen, node_word(selected_node(*entry, status)),
                               std::memory_order_seq_cst);
}

}  // namespace vkv::detail
