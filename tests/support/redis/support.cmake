# The redis test-support library (tests/support/redis): starts real redis-server processes
# and a Redis Cluster for tests, benchmarks and the lab's tests. Included by
# tests/redis/CMakeLists.txt and bench/cmake/redis.cmake (both only when vkv::redis
# exists, so src/redis/CMakeLists.txt has found hiredis as PkgConfig::HIREDIS, a GLOBAL
# imported target); defined once.
if(NOT TARGET vkv_redis_test_support)
  add_library(vkv_redis_test_support STATIC
    ${PROJECT_SOURCE_DIR}/tests/support/redis/process.cpp
    ${PROJECT_SOURCE_DIR}/tests/support/redis/admin.cpp
    ${PROJECT_SOURCE_DIR}/tests/support/redis/server.cpp
    ${PROJECT_SOURCE_DIR}/tests/support/redis/cluster.cpp)
  target_compile_features(vkv_redis_test_support PUBLIC cxx_std_20)
  target_include_directories(vkv_redis_test_support PUBLIC ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(vkv_redis_test_support PUBLIC PkgConfig::HIREDIS Threads::Threads
    PRIVATE vkv_warnings)
  # g++ 12's -Wrestrict false positive on `"text" + std::to_string(n)` at -O3 (GCC bug
  # 105651; see tests/CMakeLists.txt): off for this library on g++ < 13 only.
  target_compile_options(vkv_redis_test_support PRIVATE
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
endif()
