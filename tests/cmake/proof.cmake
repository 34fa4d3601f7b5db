# Proof of the core: linearizability checker, stress tests with invariants, fault
# injection, and differential fuzzing (see docs/testing.md).

# libFuzzer targets: only with VKV_BUILD_FUZZERS (the `fuzz` preset, clang++-14), and
# then nothing else from this list, so that preset builds only fuzzers.
if(VKV_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VKV_BUILD_FUZZERS needs clang (use the `fuzz` preset)")
  endif()
  add_executable(store_fuzzer ${PROJECT_SOURCE_DIR}/tests/fuzz/store_fuzzer.cpp)
  target_link_libraries(store_fuzzer PRIVATE vkv::vkv vkv_warnings)
  target_include_directories(store_fuzzer PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_options(store_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined
    -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/tests/fuzz/ubsan-ignore.txt)
  target_link_options(store_fuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  return()
endif()

set(vkv_proof_dir ${PROJECT_SOURCE_DIR}/tests)

# Linearizability: the checker on hand-made histories, then the store under it.
vkv_add_test(lin_checker_test ${vkv_proof_dir}/lin/checker_test.cpp)
vkv_add_test(lin_store_test ${vkv_proof_dir}/lin/lin_store_test.cpp LABELS concurrency)

# Stress tests with invariants checked at the end.
vkv_add_test(stress_counter_test ${vkv_proof_dir}/stress/counter_test.cpp LABELS concurrency)
vkv_add_test(stress_churn_test ${vkv_proof_dir}/stress/churn_test.cpp LABELS concurrency)
vkv_add_test(stress_teardown_test ${vkv_proof_dir}/stress/teardown_test.cpp LABELS concurrency)
vkv_add_test(stress_garbage_test ${vkv_proof_dir}/stress/garbage_test.cpp LABELS concurrency)
# Keys longer than the small-string buffer erased and re-created under every reading
# path, and under eviction and expiry (issue 19, defect 1).
vkv_add_test(stress_long_keys_test ${vkv_proof_dir}/stress/long_keys_test.cpp LABELS concurrency)
# The realistic-inputs axis (issue 19; docs/testing.md, "Realistic inputs"): key
# length x value kind x run condition, one mixed workload of every operation per cell.
vkv_add_test(stress_realistic_test ${vkv_proof_dir}/stress/realistic_test.cpp LABELS concurrency)

# Faults and bad input. The allocation-failure test replaces global operator new, so
# it is a binary of its own.
vkv_add_test(fault_test ${vkv_proof_dir}/fault_test.cpp LABELS concurrency)
vkv_add_test(fault_alloc_test ${vkv_proof_dir}/fault_alloc_test.cpp)

# The fuzzer's decoder as a plain test over the committed seed corpus.
vkv_add_test(fuzz_corpus_test ${vkv_proof_dir}/fuzz/corpus_test.cpp)
target_compile_definitions(fuzz_corpus_test PRIVATE
  VKV_FUZZ_CORPUS_DIR="${vkv_proof_dir}/fuzz/corpus")

# Each kind of write as the first vkv call of a fresh (forked) process, every
# allocation failed in turn. Replaces operator new too: a binary of its own.
vkv_add_test(fault_fresh_process_test ${vkv_proof_dir}/fault_fresh_process_test.cpp)

# The epoch's fence mode (membarrier or not) is what the run expects (VKV_EXPECT_FENCE).
vkv_add_test(epoch_fence_test ${vkv_proof_dir}/epoch_fence_test.cpp)
