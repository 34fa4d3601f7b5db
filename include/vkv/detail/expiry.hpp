// Internal (users never include this directly): expiry of records (time to live).
// docs/design.md, "Cache layer".
//
// Expiry is a property of a node: Node::expires (steady_clock nanoseconds, 0 = never;
// the clock: detail/expiry_clock.hpp) is written before the node is published and never
// changed. A node whose stamp has passed is absent to every operation that looks at it
// after that (the clock is read only for nodes that have a stamp), but "absent because
// expired" is never decided by the clock alone: the operation first removes the node, an
// erase decided by the compare-and-swap at the node it judged (StoreCore::remove_node,
// detail/store_core.hpp), so the removal and a racing write cannot both win: the loser
// sees the winner's word (a write then reports not found; a removal reads again and
// decides on what it finds). A record lives until it is removed, and no later.
//
// Who removes: every read (find, visit, find_many, for_each: the reads write here), the
// write loop (its first look and a lost CAS's winner), patch's early read, both
// read-modify-write loops, a commit's step 0 and failure naming, create and put (by
// replacing the node), active expiry (below) and eviction (detail/eviction.hpp). Reads
// and commits end their Guard first (a removal notifies on_evict, outside any Guard).
//
// Thread safety
//   Functions of a node and of the clock, and read-only sampling of the index under the
//   caller's Guard (detail/eviction_sampler.hpp): any number of threads at once.
//
// Invariants:
//   1. A node's stamp is written before the node is published and never changed, so
//      every thread judges one node the same way at one instant.
//   2. "Absent because expired" is decided only by the compare-and-swap that removes
//      the node (or by losing to it), never by the clock alone.
//   3. Active expiry reads at most kExpiryProbes cells per write that samples, and
//      removes at most one record.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "vkv/detail/eviction_sampler.hpp"
#include "vkv/detail/expiry_clock.hpp"
#include "vkv/detail/node.hpp"
#include "vkv/detail/record_slot.hpp"

namespace vkv::detail {

// Whether node has expired, at the instant of the call (reads the clock only for a
// node that carries a stamp).
template <class T>
bool expired(const Node<T>& node) noexcept {
  return node.expires != 0 && stamp_passed(node.expires);
}

// The expiry stamp of a write made now with a time to live of `span` nanoseconds
// (0 or less: never expires). A span of kCoarseMargin (1 s) or more counts from the
// coarse clock (~4 ns instead of ~30 for steady_clock on a VM), which lags steady_clock
// by up to a tick: such a record lives at most ttl and at least ttl minus a tick (4 ms
// here, 0.4 % of 1 s). Shorter spans count from steady_clock. expires_at reports the
// exact stamp either way.
inline std::int64_t expiry_stamp(std::int64_t span) noexcept {
  if (span <= 0) return 0;
  const std::int64_t now = span >= kCoarseMargin ? coarse_now() : precise_now();
  const std::int64_t at = span > std::numeric_limits<std::int64_t>::max() - now
                              ? std::numeric_limits<std::int64_t>::max()
                              : now + span;
  return at == 0 ? 1 : at;
}

// Active expiry: one write in kExpiryEvery (chosen at random) probes kExpiryProbes
// cells for expired records and removes the first it meets: about one probe per write,
// amortised, in stores that have seen a TTL.
inline constexpr std::size_t kExpiryEvery = 8;
inline constexpr std::size_t kExpiryProbes = 8;

// An expired record met by sampling: its index entry and the node judged.
template <class Entry, class T>
struct ExpiredCell {
  const Entry* entry = nullptr;
  Node<T>* node = nullptr;
};

// Samples index for one expired record, one call in kExpiryEvery; under the caller's
// Guard. Returns an empty cell when it skips or finds none.
template <class T, class Index>
ExpiredCell<typename Index::value_type, T> sample_expired(const Index& index) noexcept {
  ExpiredCell<typename Index::value_type, T> found;
  if (sample_random() % kExpiryEvery != 0) return found;
  const std::int64_t now = passed_bound();  // stamps at or below it have passed
  sample_cells(index, kExpiryProbes, [&](const typename Index::value_type& entry) {
    // acquire: pairs with the installing CAS's release (the node's fields).
    const std::uintptr_t word = entry.second.word.load(std::memory_order_acquire);
    if (word == 0 || is_entry_word(word)) return true;  // erased, or in a commit
    Node<T>* node = word_node<T>(word);
    if (node->expires == 0 || node->expires > now) return true;
    found.entry = &entry;
    found.node = node;
    return false;
  });
  return found;
}

}  // namespace vkv::detail
