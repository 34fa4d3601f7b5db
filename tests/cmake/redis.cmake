# vkv::redis (issue 14). Registered only when hiredis was found (cmake/redis.cmake
# defines vkv_redis then). CI must have them: tools/run-tests.sh fails when the plain
# g++ build did not register them, and the other stages must register the same tests.
# -DVKV_REQUIRE_REDIS=ON makes a missing hiredis, redis-server or redis-cli a configure
# error instead of silently skipping these tests.
option(VKV_REQUIRE_REDIS "Fail the configure when vkv::redis cannot be built" OFF)
if(NOT TARGET vkv_redis)
  if(VKV_REQUIRE_REDIS)
    message(FATAL_ERROR "VKV_REQUIRE_REDIS is ON but hiredis was not found "
                        "(install libhiredis-dev and pkg-config)")
  endif()
  return()
endif()

# --- Library unit tests: no server needed (tests/redis/unit/) ---
vkv_add_test(redis_unit_test
  ${PROJECT_SOURCE_DIR}/tests/redis/unit/uri_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/redis/unit/slots_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/redis/unit/codec_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/redis/unit/options_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/redis/unit/preflight_test.cpp
  ${PROJECT_SOURCE_DIR}/tests/redis/unit/sigpipe_test.cpp)
target_link_libraries(redis_unit_test PRIVATE vkv::redis)
# sigpipe_test checks an internal of the library (core/redis/connection.hpp).
target_include_directories(redis_unit_test PRIVATE ${PROJECT_SOURCE_DIR}/core/redis)
vkv_add_test(version_fork_test ${PROJECT_SOURCE_DIR}/tests/redis/unit/version_fork_test.cpp)

# The redis test-support library (tests/redis/support/: RedisServer, RedisCluster, Admin,
# ...). It starts real redis-server processes (and Redis Cluster) on 127.0.0.1 with ports
# it picks, and kills them by pid when the test ends, also on failure (the servers also get
# PR_SET_PDEATHSIG). Everything below needs redis-server; without it no test below is
# registered (VKV_REQUIRE_REDIS, above, makes that an error).
find_program(VKV_REDIS_SERVER redis-server)
if(NOT VKV_REDIS_SERVER)
  if(VKV_REQUIRE_REDIS)
    message(FATAL_ERROR "VKV_REQUIRE_REDIS is ON but redis-server was not found")
  endif()
  return()
endif()
include(${PROJECT_SOURCE_DIR}/tests/redis/support/support.cmake)

# Smoke tests against a redis-server (or a 3-master cluster) each test binary starts
# itself with the support library; they need redis-server only.
vkv_add_test(redis_store_smoke_test ${PROJECT_SOURCE_DIR}/tests/redis/unit/store_smoke_test.cpp
             ${PROJECT_SOURCE_DIR}/tests/redis/unit/wait_smoke_test.cpp
             ${PROJECT_SOURCE_DIR}/tests/redis/unit/deadline_test.cpp
             ${PROJECT_SOURCE_DIR}/tests/redis/unit/auth_test.cpp
             ${PROJECT_SOURCE_DIR}/tests/redis/unit/connection_heal_test.cpp
             LABELS concurrency)
target_link_libraries(redis_store_smoke_test PRIVATE vkv::redis vkv_redis_test_support)
target_include_directories(redis_store_smoke_test PRIVATE ${PROJECT_SOURCE_DIR}/core/redis)
vkv_add_test(redis_cluster_smoke_test
             ${PROJECT_SOURCE_DIR}/tests/redis/unit/cluster_smoke_test.cpp)
target_link_libraries(redis_cluster_smoke_test PRIVATE vkv::redis vkv_redis_test_support)

# --- Tests against real Redis servers (tests/redis/*.cpp), with the support library. Each
# binary starts its own redis-server processes (and Redis Cluster, which redis-cli
# --cluster create forms). A binary is ONE ctest test (not one per gtest case, as
# vkv_add_test registers): its servers and cluster are then started once per binary,
# which keeps every stage's redis tests within about a minute.
# They also need redis-cli (Debian redis-tools); without it none of them is registered
# (VKV_REQUIRE_REDIS, above, makes that an error).
find_program(VKV_REDIS_CLI redis-cli)
if(NOT VKV_REDIS_CLI)
  if(VKV_REQUIRE_REDIS)
    message(FATAL_ERROR "VKV_REQUIRE_REDIS is ON but redis-cli was not found")
  endif()
  return()
endif()

# vkv_add_redis_test(<name> <sources...>): a gtest binary linked with vkv::redis and the
# support library, registered as one ctest test labelled redis and concurrency.
function(vkv_add_redis_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE vkv::redis vkv_redis_test_support vkv_warnings
    GTest::gtest GTest::gmock GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  # The GCC 12 -Wrestrict false positive vkv_add_test explains (tests/CMakeLists.txt).
  target_compile_options(${name} PRIVATE
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "redis;concurrency" TIMEOUT 300)
  add_dependencies(vkv_concurrency_tests ${name})
endfunction()

vkv_add_redis_test(redis_harness_test ${CMAKE_CURRENT_SOURCE_DIR}/redis/harness_test.cpp)
vkv_add_redis_test(redis_contract_test
  ${CMAKE_CURRENT_SOURCE_DIR}/redis/contract_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/redis/contract_batch_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/redis/contract_cache_test.cpp)
vkv_add_redis_test(redis_fault_test ${CMAKE_CURRENT_SOURCE_DIR}/redis/fault_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/redis/migration_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/redis/router_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/redis/router_heal_test.cpp)
vkv_add_redis_test(redis_lin_process_test ${CMAKE_CURRENT_SOURCE_DIR}/redis/lin_process_test.cpp)
if(VKV_BUILD_TOOLS)
  # vkv-lab race|sweep --redis against a server this test starts (tools/vkv-lab/redis_*.cpp).
  vkv_add_redis_test(redis_lab_test ${CMAKE_CURRENT_SOURCE_DIR}/redis/lab_redis_test.cpp)
  target_compile_definitions(redis_lab_test PRIVATE VKV_LAB_BINARY="$<TARGET_FILE:vkv-lab>")
  add_dependencies(redis_lab_test vkv-lab)
endif()
