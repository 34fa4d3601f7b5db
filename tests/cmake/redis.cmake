# --- Tests against real Redis servers (tests/redis/*.cpp; support library in
# tests/redis/support/). Each binary starts its own redis-server processes and Redis
# Cluster on 127.0.0.1 with ports it picks, and kills them by pid when it ends.
include(${PROJECT_SOURCE_DIR}/tests/redis/support/support.cmake)

vkv_add_test(redis_harness_test ${CMAKE_CURRENT_SOURCE_DIR}/redis/harness_test.cpp
  LABELS redis)
target_link_libraries(redis_harness_test PRIVATE vkv_redis_test_support)
