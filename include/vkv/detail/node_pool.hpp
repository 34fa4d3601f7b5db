// Internal (users never include this directly): recycling of record nodes.
//
// A write allocates one Node and retires the one it replaced; the epoch scheme frees
// that one a grace period later. Without recycling every write is a malloc and a free
// (and, across threads, a trip through the allocator's remote-free path). Here a freed
// node's memory goes onto a free list of the thread that frees it, and the next node
// that thread makes comes off that list: a steady stream of updates of a trivially
// copyable value makes no call to the global allocator (tests/node_pool/node_pool_test.cpp).
//
// Thread safety
//   Each free list belongs to one epoch::ThreadRecord and is touched only by the
//   record's owning thread (epoch.hpp invariant 3): no atomics. A node is freed by
//   whichever thread runs its deleter: its retiring thread, or a thread that frees an
//   idle thread's list (epoch::steal_idle()); it goes onto that thread's lists.
//
// Invariants:
//   1. Every block on a list came from ::operator new(bytes) for the list's size, so a
//      block may equally be handed back with ::operator delete: code that frees a node
//      with `delete` (or gets one from plain `new`) is correct, merely not recycled.
//   2. A list holds at most kMaxBlocks blocks; beyond that, memory goes back to the
//      allocator. A thread's lists hold at most kMaxBlocks * 4 blocks in all.
//   3. Allocation never throws after a block was taken from a list.
#pragma once

#include <cstddef>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "vkv/detail/epoch.hpp"

namespace vkv::detail {

inline constexpr std::uint32_t kMaxPooledBlocks = 1024;

// A block of `bytes` (new-aligned) from the calling thread's list, else from the
// allocator. May throw std::bad_alloc (from attaching the thread, or the allocator).
inline void* pool_allocate(std::size_t bytes) {
  epoch::ThreadRecord& record = epoch::this_thread();
  for (auto& list : record.free_lists) {
    if (list.bytes == bytes && list.head != nullptr) {
      void* block = list.head;
      list.head = *static_cast<void**>(block);
      --list.count;
      return block;
    }
  }
  return ::operator new(bytes);
}

// Hands a block of `bytes` back: onto the calling thread's list if it has room, else
// to the allocator. Never throws, never allocates.
inline void pool_free(void* block, std::size_t bytes) noexcept {
  epoch::ThreadRecord* record = epoch::tls_record;
  if (record != nullptr) {
    epoch::ThreadRecord::FreeList* unused = nullptr;
    for (auto& list : record->free_lists) {
      if (list.bytes == bytes) {
        if (list.count >= kMaxPooledBlocks) break;
        *static_cast<void**>(block) = list.head;
        list.head = block;
        ++list.count;
        return;
      }
      if (list.bytes == 0 && unused == nullptr) unused = &list;
    }
    if (unused != nullptr) {
      unused->bytes = bytes;
      *static_cast<void**>(block) = nullptr;
      unused->head = block;
      unused->count = 1;
      return;
    }
  }
  ::operator delete(block);
}

// Nodes whose type fits the pool (new-aligned, at least a pointer wide).
template <class N>
inline constexpr bool kPooled = alignof(N) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__ &&
                                sizeof(N) >= sizeof(void*);

template <class N, class... Args>
N* make_pooled(Args&&... args) {
  if constexpr (!kPooled<N>) {
    return new N{std::forward<Args>(args)...};
  } else {
    void* block = pool_allocate(sizeof(N));
    try {
      return new (block) N{std::forward<Args>(args)...};
    } catch (...) {
      pool_free(block, sizeof(N));
      throw;
    }
  }
}

template <class N>
void destroy_pooled(N* node) noexcept {
  if constexpr (!kPooled<N>) {
    delete node;
  } else {
    node->~N();
    pool_free(node, sizeof(N));
  }
}

// unique_ptr deleter for nodes made by make_pooled.
struct PooledDelete {
  template <class N>
  void operator()(N* node) const noexcept {
    destroy_pooled(node);
  }
};

// Heap memory a value owns beyond its own size, for the garbage bound in bytes
// (epoch.hpp, "Bounds"): strings and vectors count their capacity; other types count
// sizeof only.
template <class T>
std::size_t heap_bytes(const T&) noexcept {
  return 0;
}
inline std::size_t heap_bytes(const std::string& s) noexcept {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;  // beyond libstdc++'s inline buffer
}
template <class U, class A>
std::size_t heap_bytes(const std::vector<U, A>& v) noexcept {
  return v.capacity() * sizeof(U);
}

// Retires a node so that its memory is recycled when the grace period ends. The caller
// reserved room (epoch invariant 4).
template <class N>
void retire_pooled(N* node) noexcept {
  epoch::retire(
      node, [](void* p) noexcept { destroy_pooled(static_cast<N*>(p)); },
      sizeof(N) + heap_bytes(node->value));
}

}  // namespace vkv::detail
