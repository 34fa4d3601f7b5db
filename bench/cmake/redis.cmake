# vkv::redis against hand-written WATCH/MULTI and Lua check-and-set on real servers the
# benchmark starts itself (tests/redis/support). Only when the vkv::redis target exists.
if(TARGET vkv::redis)
  include(${PROJECT_SOURCE_DIR}/tests/redis/support/support.cmake)
  vkv_add_benchmark(redis_benchmark redis_benchmark.cpp)
  target_link_libraries(redis_benchmark PRIVATE vkv::redis vkv_redis_test_support Boost::headers)
endif()
