// Test support for the commit protocol's preemption points (detail::CommitPoint in
// detail/transaction_descriptor.hpp): a CommitParker stops the thread that arms it at
// one chosen point of a commit until the test releases it, so a test can inject an
// interleaving (a preempted owner, a preempted helper) deterministically, with no
// sleeps. The including test must define VKV_TESTING_COMMIT_HOOKS before any vkv
// header (the hook is compiled in only then).
#pragma once

#ifndef VKV_TESTING_COMMIT_HOOKS
#error "define VKV_TESTING_COMMIT_HOOKS before including any vkv header"
#endif

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <vkv/vkv.hpp>

namespace vkv_test {

using vkv::detail::CommitPoint;

// Parks the arming thread the first time it reaches `point` at entry `entry` (in
// install order; all_installed and decided carry the entry count) in the role `owner`.
// While parked, the thread holds its epoch Guard and whatever the protocol holds there.
template <class T>
class CommitParker {
 public:
  using Descriptor = vkv::detail::TxDescriptor<T>;

  CommitParker(CommitPoint point, std::size_t entry, bool owner = true)
      : point_(point), entry_(entry), owner_(owner) {}
  CommitParker(const CommitParker&) = delete;
  CommitParker& operator=(const CommitParker&) = delete;

  // On the thread to park, before its commit; disarm() after it.
  void arm() { vkv::detail::commit_hook<T> = {&CommitParker::call, this}; }
  static void disarm() { vkv::detail::commit_hook<T> = {}; }

  // Runs on the parked thread, inside its Guard, just before it reports parked.
  void on_park(std::function<void(const Descriptor&)> f) { on_park_ = std::move(f); }

  // Blocks until the armed thread is parked. A point the commit never reaches would
  // hang the test: after two minutes (never the expected case) it aborts instead.
  void wait_parked() {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::minutes(2), [&] { return parked_; })) {
      std::fprintf(stderr, "CommitParker: the thread never reached its point\n");
      std::abort();
    }
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
  }
  // How often the arming thread reached `point` in the parker's role (owner or
  // helper), parked or not.
  std::size_t reached(CommitPoint point) const {
    std::lock_guard lock(mutex_);
    return reached_[static_cast<std::size_t>(point)];
  }

 private:
  static void call(void* context, CommitPoint point, const Descriptor& descriptor,
                   std::size_t entry, bool owner) {
    auto& self = *static_cast<CommitParker*>(context);
    if (owner != self.owner_) return;
    std::unique_lock lock(self.mutex_);
    ++self.reached_[static_cast<std::size_t>(point)];
    if (point != self.point_ || entry != self.entry_ || self.parked_) return;  // parks once
    if (self.on_park_) self.on_park_(descriptor);
    self.parked_ = true;
    self.changed_.notify_all();
    self.changed_.wait(lock, [&] { return self.released_; });
  }

  const CommitPoint point_;
  const std::size_t entry_;
  const bool owner_;
  std::function<void(const Descriptor&)> on_park_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::array<std::size_t, 4> reached_{};  // by CommitPoint
  bool parked_ = false;
  bool released_ = false;
};

// The address of `id`'s record slot as a commit sees it: a check-only commit on the
// calling thread reports, at its first install, the slot the descriptor finds for its
// key. Only for ids on which no commit is parked (the probe would help that commit).
template <class T, class Key>
std::uintptr_t slot_address(vkv::Store<T, Key>& store, const Key& id) {
  struct Probe {
    std::uintptr_t address = 0;
    static void call(void* context, CommitPoint point,
                     const vkv::detail::TxDescriptor<T>& descriptor, std::size_t entry,
                     bool owner) {
      if (point != CommitPoint::installed || !owner) return;
      static_cast<Probe*>(context)->address =
          reinterpret_cast<std::uintptr_t>(descriptor.find_slot(descriptor, entry));
    }
  } probe;
  const auto record = store.find(id);
  if (!record) return 0;
  const auto saved = vkv::detail::commit_hook<T>;
  vkv::detail::commit_hook<T> = {&Probe::call, &probe};
  vkv::Transaction<T, Key> check;
  check.check(id, record->version);
  const bool ok = store.try_commit(check).ok();
  vkv::detail::commit_hook<T> = saved;
  return ok ? probe.address : 0;
}

}  // namespace vkv_test
