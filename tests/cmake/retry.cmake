# Retry policies, backoff delays, update_with_retry, stats counters and the
# contention-adaptive mode (issue 4).
vkv_add_test(retry_test ${PROJECT_SOURCE_DIR}/tests/retry_test.cpp)
vkv_add_test(stats_test ${PROJECT_SOURCE_DIR}/tests/stats_test.cpp LABELS concurrency)
vkv_add_test(adaptive_test ${PROJECT_SOURCE_DIR}/tests/adaptive_test.cpp LABELS concurrency)
