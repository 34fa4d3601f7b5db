# Contract tests of the single-record Store API (API.md, "Types" and "Store").
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
# Multi-threaded: selected by the TSan and ASan+UBSan jobs (ctest -L concurrency).
vkv_add_test(race_test ${CMAKE_CURRENT_SOURCE_DIR}/stress/race_test.cpp LABELS concurrency)

# g++ 12 at -O3 (the plain Release build) warns -Wrestrict inside libstdc++'s
# `"v" + std::to_string(i)` (char_traits::copy, "accessing 9223372036854775810 or more
# bytes"): GCC bug 105651, a false positive fixed in g++ 13. Silenced for this one file
# and those compilers only, so the warning stays on everywhere else.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/store_types_test.cpp
    TARGET_DIRECTORY store_test PROPERTIES COMPILE_OPTIONS -Wno-restrict)
endif()
