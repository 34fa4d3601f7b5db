// Reclamation costs: vkv's epoch scheme beside the two usual alternatives, hazard
// pointers and reference counting, on the same job: read a shared pointer safely
// (read side), and replace-and-free an object (write side).
//
// Read side, per protected read of one shared pointer:
//   BM_Epoch_GuardedLoad{Symmetric,Asymmetric}: epoch::Guard + acquire load;
//   BM_HazardPointer_ProtectedLoad: publish the pointer in a hazard slot, seq_cst
//     fence, reload to validate (the minimum a hazard pointer read costs);
//   BM_SharedPtr_AtomicLoad: std::atomic_load of a std::shared_ptr (a reference
//     count increment and decrement on a shared line, plus libstdc++'s lock pool).
// Write side, per replaced object:
//   BM_Epoch_Retire{Symmetric,Asymmetric}: new + epoch::reserve + epoch::retire inside
//     a Guard (as a write retires; the Guard's entry is counted too), with the
//     amortised try_advance (a membarrier() syscall in asymmetric mode) and free;
//   BM_Delete_Immediate: new + delete, the floor no safe scheme can beat.
//   BM_Epoch_TryAdvance{Symmetric,Asymmetric}: one attempt to advance the epoch.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "bench_main.hpp"
#include "vkv/detail/epoch.hpp"

namespace {

namespace epoch = vkv::detail::epoch;
using epoch::FenceMode;

struct Payload {
  std::uint64_t words[8];  // 64 bytes: the size of a vkv node with a 32-byte value
};

Payload shared_payload{};
std::atomic<Payload*> shared_pointer{&shared_payload};

// Fence mode switches happen only in thread 0 before the start barrier and after the
// end barrier, while no other benchmark thread is inside vkv's epoch code.
class FenceScope {
 public:
  FenceScope(benchmark::State& state, FenceMode mode)
      : state_(state), before_(epoch::fence_mode()) {
    if (state_.thread_index() == 0) epoch::set_fence_mode(mode);
    mode_ = mode;
  }
  void finish() {
    if (state_.thread_index() != 0) return;
    if (epoch::fence_mode() != mode_) state_.SkipWithError("fence mode not available");
    epoch::set_fence_mode(before_);
  }

 private:
  benchmark::State& state_;
  FenceMode before_;
  FenceMode mode_;
};

template <FenceMode Mode>
void guarded_load(benchmark::State& state) {
  FenceScope scope(state, Mode);
  for (auto _ : state) {
    epoch::Guard guard;
    // acquire: as a reader of a published node would.
    benchmark::DoNotOptimize(shared_pointer.load(std::memory_order_acquire)->words[0]);
  }
  scope.finish();
  state.SetItemsProcessed(state.iterations());
}

struct alignas(64) HazardSlot {
  std::atomic<Payload*> pointer{nullptr};
};
HazardSlot hazard_slots[64];

void hazard_pointer_load(benchmark::State& state) {
  HazardSlot& slot = hazard_slots[state.thread_index() % 64];
  for (auto _ : state) {
    Payload* p = shared_pointer.load(std::memory_order_acquire);
    for (;;) {
      // relaxed store + seq_cst fence: the announcement must be visible before the
      // validating reload (store-load order), as in Michael's hazard pointers.
      slot.pointer.store(p, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      Payload* again = shared_pointer.load(std::memory_order_acquire);
      if (again == p) break;
      p = again;
    }
    benchmark::DoNotOptimize(p->words[0]);
    slot.pointer.store(nullptr, std::memory_order_release);  // release: reads done
  }
  state.SetItemsProcessed(state.iterations());
}

std::shared_ptr<Payload> shared_counted = std::make_shared<Payload>();

void shared_ptr_load(benchmark::State& state) {
  for (auto _ : state) {
    std::shared_ptr<Payload> p =
        std::atomic_load_explicit(&shared_counted, std::memory_order_acquire);
    benchmark::DoNotOptimize(p->words[0]);
  }
  state.SetItemsProcessed(state.iterations());
}

template <FenceMode Mode>
void retire(benchmark::State& state) {
  FenceScope scope(state, Mode);
  for (auto _ : state) {
    auto* p = new Payload{};
    benchmark::DoNotOptimize(p);
    epoch::Guard guard;  // a thread's list is touched inside a Guard (epoch.hpp)
    epoch::reserve(1);
    epoch::retire(p);
  }
  epoch::drain();
  scope.finish();
  state.SetItemsProcessed(state.iterations());
}

void delete_immediate(benchmark::State& state) {
  for (auto _ : state) {
    auto* p = new Payload{};
    benchmark::DoNotOptimize(p);
    delete p;
  }
  state.SetItemsProcessed(state.iterations());
}

template <FenceMode Mode>
void try_advance(benchmark::State& state) {
  FenceScope scope(state, Mode);
  for (auto _ : state) benchmark::DoNotOptimize(epoch::try_advance());
  scope.finish();
  state.SetItemsProcessed(state.iterations());
}

void register_all() {
  auto add = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->Threads(1)->Threads(2)->UseRealTime();
  };
  add("BM_Epoch_GuardedLoadSymmetric", guarded_load<FenceMode::symmetric>);
  add("BM_Epoch_GuardedLoadAsymmetric", guarded_load<FenceMode::asymmetric>);
  add("BM_HazardPointer_ProtectedLoad", hazard_pointer_load);
  add("BM_SharedPtr_AtomicLoad", shared_ptr_load);
  add("BM_Epoch_RetireSymmetric", retire<FenceMode::symmetric>);
  add("BM_Epoch_RetireAsymmetric", retire<FenceMode::asymmetric>);
  add("BM_Delete_Immediate", delete_immediate);
  add("BM_Epoch_TryAdvanceSymmetric", try_advance<FenceMode::symmetric>);
  add("BM_Epoch_TryAdvanceAsymmetric", try_advance<FenceMode::asymmetric>);
}

}  // namespace

int main(int argc, char** argv) { return vkv_bench::run_benchmarks(argc, argv, register_all); }
