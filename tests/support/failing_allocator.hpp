// Allocation-failure injection for tests: replaces the global operator new/delete with
// a malloc-based version that, while armed on the calling thread, fails the Nth
// allocation (throwing std::bad_alloc, or returning nullptr for the nothrow forms).
// Only the arming thread fails, so gtest's and other threads' allocations are
// untouched.
//
// Include this header in exactly ONE translation unit of a test binary: it defines
// the replacement operators.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace vkv_test::injected {

// Plain thread_locals: no atomics needed, nothing is shared.
inline constinit thread_local bool armed = false;
inline constinit thread_local std::int64_t countdown = 0;
inline constinit thread_local bool fired = false;

// Optional: runs just before the injected failure (on the failing thread, with the
// injector already disarmed), to let another thread act at exactly that point.
using Hook = void (*)();
inline constinit thread_local Hook before_failure = nullptr;

inline bool should_fail() noexcept {
  if (!armed) return false;
  if (--countdown > 0) return false;
  armed = false;  // fail exactly the Nth allocation; let unwinding allocate freely
  fired = true;
  if (before_failure != nullptr) before_failure();
  return true;
}

inline void* allocate(std::size_t size, std::size_t align) noexcept {
  if (should_fail()) return nullptr;
  if (size == 0) size = 1;
  if (align <= alignof(std::max_align_t)) return std::malloc(size);
  void* p = nullptr;
  return posix_memalign(&p, align, size) == 0 ? p : nullptr;
}

inline void* allocate_or_throw(std::size_t size, std::size_t align) {
  void* p = allocate(size, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Disarms early, e.g. right after the call under test, so that checking its outcome
// cannot be what fails (the scope below still ends the same way).
inline void disarm() noexcept { armed = false; }

// Arms the injector for one scope: the Nth allocation on this thread fails.
class FailNthAllocation {
 public:
  explicit FailNthAllocation(std::int64_t n) {
    fired = false;
    countdown = n;
    armed = true;
  }
  ~FailNthAllocation() { armed = false; }
  FailNthAllocation(const FailNthAllocation&) = delete;
  FailNthAllocation& operator=(const FailNthAllocation&) = delete;
};

}  // namespace vkv_test::injected

// The replacements below allocate with malloc/posix_memalign and free with free, which
// match; gcc only sees `new` paired with `free` once it inlines them and warns.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) { return vkv_test::injected::allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return vkv_test::injected::allocate_or_throw(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return vkv_test::injected::allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return vkv_test::injected::allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return vkv_test::injected::allocate(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return vkv_test::injected::allocate(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return vkv_test::injected::allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return vkv_test::injected::allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
