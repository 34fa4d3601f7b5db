# The cache layer (issue 15): put, find_or_create, expiry, the capacity bound, hot keys
# and metrics rendering.
vkv_add_test(cache_test ${PROJECT_SOURCE_DIR}/tests/cache/cache_test.cpp LABELS concurrency)
# put, find_or_create and version-checked writes racing eviction and expiry, checked
# for linearizability against a register model in which the record may vanish.
vkv_add_test(cache_lin_test ${PROJECT_SOURCE_DIR}/tests/cache/cache_lin_test.cpp LABELS concurrency)
