# Benchmarks against peers: single operations, memory, YCSB, reclamation.
# Peers live in bench/peers/*.hpp; libcuckoo is header-only (Debian libcuckoo-dev).
find_package(libcuckoo CONFIG REQUIRED)

vkv_add_benchmark(ops_benchmark ops_benchmark.cpp)
target_link_libraries(ops_benchmark PRIVATE libcuckoo::libcuckoo vkv_workload)

vkv_add_benchmark(memory_benchmark memory_benchmark.cpp)
target_link_libraries(memory_benchmark PRIVATE libcuckoo::libcuckoo)

vkv_add_benchmark(ycsb_benchmark ycsb_benchmark.cpp)
target_link_libraries(ycsb_benchmark PRIVATE libcuckoo::libcuckoo vkv_workload)

vkv_add_benchmark(reclaim_benchmark reclaim_benchmark.cpp)

# g++ 12 warns (-Wtsan) that ThreadSanitizer does not model std::atomic_thread_fence,
# which the hazard-pointer peer in reclaim_benchmark.cpp uses as the algorithm demands
# (its figures under TSan mean nothing anyway; vkv's own code avoids the fence there,
# see VKV_UNDER_TSAN in detail/epoch.hpp). Silenced for this target, and only when
# someone builds it with -fsanitize=thread (e.g. -DCMAKE_CXX_FLAGS=-fsanitize=thread).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_FLAGS MATCHES "-fsanitize=thread")
  target_compile_options(reclaim_benchmark PRIVATE -Wno-tsan)
endif()
