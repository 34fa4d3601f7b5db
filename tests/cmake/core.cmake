# The core's read and write paths: the lock-free lookup table in front of the index,
# visit(), for_each without locks, node recycling, and the garbage bound in bytes.
vkv_add_test(lookup_table_test ${PROJECT_SOURCE_DIR}/tests/core/lookup_table_test.cpp
  LABELS concurrency)
vkv_add_test(visit_test ${PROJECT_SOURCE_DIR}/tests/core/visit_test.cpp)
# Replaces global operator new to count calls: a binary of its own.
vkv_add_test(node_pool_test ${PROJECT_SOURCE_DIR}/tests/core/node_pool_test.cpp)
vkv_add_test(garbage_bytes_test ${PROJECT_SOURCE_DIR}/tests/core/garbage_bytes_test.cpp
  LABELS concurrency)
# Commits under the garbage bound, counted in bytes (issue 19, defect 2).
vkv_add_test(garbage_commit_test ${PROJECT_SOURCE_DIR}/tests/core/garbage_commit_test.cpp
  LABELS concurrency)
# Reclaiming is linear in what it frees (reclaim_stats counts it; issue 19, defect 2).
vkv_add_test(garbage_drain_test ${PROJECT_SOURCE_DIR}/tests/core/garbage_drain_test.cpp
  LABELS concurrency)
# 200 parked threads' garbage does not wedge a writer (issue 19, defect 5).
vkv_add_test(idle_garbage_test ${PROJECT_SOURCE_DIR}/tests/core/idle_garbage_test.cpp
  LABELS concurrency)
