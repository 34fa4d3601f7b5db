# Contract tests of the single-record Store API (include/vkv/store.hpp and the types it uses).
# Shared helpers: tests/test_support/contract_support.hpp.
vkv_add_test(version_test ${CMAKE_CURRENT_SOURCE_DIR}/version_test.cpp)
vkv_add_test(errors_test ${CMAKE_CURRENT_SOURCE_DIR}/errors_test.cpp)
vkv_add_test(result_test ${CMAKE_CURRENT_SOURCE_DIR}/result_test.cpp)
vkv_add_test(store_test
  ${CMAKE_CURRENT_SOURCE_DIR}/store_write_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/store_read_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/store_try_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/store_callbacks_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/store_types_test.cpp)
# Multi-threaded: labelled concurrency (ctest -L concurrency).
vkv_add_test(race_test ${CMAKE_CURRENT_SOURCE_DIR}/stress/race_test.cpp LABELS concurrency)
