# Retry policies, backoff delays, update_with_retry, stats counters and the
# contention-adaptive mode (issue 4).
vkv_add_test(retry_test ${PROJECT_SOURCE_DIR}/tests/retry_test.cpp)
vkv_add_test(stats_test ${PROJECT_SOURCE_DIR}/tests/stats_test.cpp LABELS concurrency)
vkv_add_test(adaptive_test ${PROJECT_SOURCE_DIR}/tests/adaptive_test.cpp LABELS concurrency)

# The shared contention driver (bench/workload), when it is built.
if(VKV_BUILD_BENCHMARKS OR VKV_BUILD_TOOLS)
  vkv_add_test(workload_test ${PROJECT_SOURCE_DIR}/bench/workload/workload_test.cpp
               LABELS concurrency)
  target_link_libraries(workload_test PRIVATE vkv_workload)
endif()
vkv_add_test(starvation_test ${PROJECT_SOURCE_DIR}/tests/starvation_test.cpp LABELS concurrency)
