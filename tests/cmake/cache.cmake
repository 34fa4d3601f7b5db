# The cache layer (issue 15): put, find_or_create, expiry, the capacity bound, hot keys
# and metrics rendering.
vkv_add_test(cache_test ${PROJECT_SOURCE_DIR}/tests/cache/cache_test.cpp LABELS concurrency)
# put, find_or_create, finds, version-checked writes and commit checks racing eviction
# and expiry, checked for linearizability against a register model in which the record
# may vanish (by expiry: not before its stamp, and not after an operation met it).
vkv_add_test(cache_lin_test ${PROJECT_SOURCE_DIR}/tests/cache/cache_lin_test.cpp LABELS concurrency)
# Every "absent because expired" verdict is the removing CAS: each reading path runs while
# a version-checked write is parked between its expiry check and its CAS (issue 19, 4).
vkv_add_test(expiry_verdict_test ${PROJECT_SOURCE_DIR}/tests/cache/expiry_verdict_test.cpp
  LABELS concurrency)
# The conflict path is lock-free: a failed write completes while another thread holds
# its hot-key stripe (issue 19, 7).
vkv_add_test(hot_keys_test ${PROJECT_SOURCE_DIR}/tests/cache/hot_keys_test.cpp LABELS concurrency)
if(VKV_BUILD_TOOLS)
  # `vkv-lab cache` as a real process: argument errors and a short run's reports.
  vkv_add_test(vkv_lab_cache_test ${PROJECT_SOURCE_DIR}/tests/cache/cache_lab_cli_test.cpp
    LABELS concurrency)
  target_compile_definitions(vkv_lab_cache_test PRIVATE VKV_LAB_BINARY="$<TARGET_FILE:vkv-lab>")
  add_dependencies(vkv_lab_cache_test vkv-lab)
endif()
