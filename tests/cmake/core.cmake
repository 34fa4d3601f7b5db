# The core's read and write paths: the lock-free lookup table in front of the index,
# visit(), for_each without locks, node recycling, and the garbage bound in bytes.
vkv_add_test(lookup_table_test ${PROJECT_SOURCE_DIR}/tests/core/lookup_table_test.cpp
  LABELS concurrency)
vkv_add_test(visit_test ${PROJECT_SOURCE_DIR}/tests/core/visit_test.cpp)
# Replaces global operator new to count calls: a binary of its own.
vkv_add_test(node_pool_test ${PROJECT_SOURCE_DIR}/tests/core/node_pool_test.cpp)
vkv_add_test(garbage_bytes_test ${PROJECT_SOURCE_DIR}/tests/core/garbage_bytes_test.cpp
  LABELS concurrency)
