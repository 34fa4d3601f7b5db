# The cache layer (issue 15): put, find_or_create, expiry, the capacity bound, hot keys
# and metrics rendering.
vkv_add_test(cache_test ${PROJECT_SOURCE_DIR}/tests/cache/cache_test.cpp LABELS concurrency)
