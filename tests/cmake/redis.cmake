# vkv::redis (issue 14). Registered only when hiredis was found (cmake/redis.cmake
# defines vkv_redis then). CI must have it: configure with -DVKV_REQUIRE_REDIS=ON
# (tools/run-tests.sh does) and a missing libhiredis-dev fails the configure instead of
# silently skipping these tests.
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

# Smoke tests against a redis-server each test binary starts itself
# (tests/redis/unit/local_server.hpp), when redis-server is installed.
find_program(VKV_REDIS_SERVER redis-server)
if(VKV_REDIS_SERVER)
  vkv_add_test(redis_store_smoke_test ${PROJECT_SOURCE_DIR}/tests/redis/unit/store_smoke_test.cpp
               LABELS concurrency)
  target_link_libraries(redis_store_smoke_test PRIVATE vkv::redis)
  target_include_directories(redis_store_smoke_test PRIVATE ${PROJECT_SOURCE_DIR}/core/redis)
  vkv_add_test(redis_cluster_smoke_test
               ${PROJECT_SOURCE_DIR}/tests/redis/unit/cluster_smoke_test.cpp)
  target_link_libraries(redis_cluster_smoke_test PRIVATE vkv::redis)
elseif(VKV_REQUIRE_REDIS)
  message(FATAL_ERROR "VKV_REQUIRE_REDIS is ON but redis-server was not found")
endif()
