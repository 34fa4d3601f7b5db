# Example programs under examples/. Each one checks its own outcome and exits non-zero
# when the store misbehaves, so CTest runs them as tests and they cannot rot.

add_executable(vkv-race-example ${PROJECT_SOURCE_DIR}/examples/race_example.cpp)
target_link_libraries(vkv-race-example PRIVATE vkv::vkv vkv_warnings)

if(BUILD_TESTING)
  add_test(NAME vkv-race-example COMMAND vkv-race-example)
  # Two threads race on one record: the sanitizer jobs (ctest -L concurrency) run it too.
  set_tests_properties(vkv-race-example PROPERTIES
    LABELS "unit;concurrency"
    TIMEOUT 60)
endif()
