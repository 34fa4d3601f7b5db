# vkv::redis against hand-written WATCH/MULTI and Lua check-and-set on real servers the
# benchmark starts itself (tests/support/redis). Only when the vkv::redis target exists.
if(TARGET vkv::redis)
  include(${PROJECT_SOURCE_DIR}/tests/support/redis/support.cmake)
  vkv_add_benchmark(redis_benchmark redis_benchmark.cpp)
  target_link_libraries(redis_benchmark PRIVATE vkv::redis vkv_redis_test_support Boost::headers)
  # g++ 12's -Wrestrict false positive on `"text" + std::to_string(n)` at -O3 (GCC bug
  # 105651, seen here in the plain Release build; see tests/CMakeLists.txt).
  target_compile_options(redis_benchmark PRIVATE
    $<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>)
endif()
