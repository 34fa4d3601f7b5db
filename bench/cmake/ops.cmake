# Benchmarks against peers (issue 5): single operations, memory, YCSB, reclamation.
# Peers live in bench/peers/*.hpp; libcuckoo is header-only (Debian libcuckoo-dev).
find_package(libcuckoo CONFIG REQUIRED)

vkv_add_benchmark(ops_benchmark ops_benchmark.cpp)
target_link_libraries(ops_benchmark PRIVATE libcuckoo::libcuckoo vkv_workload)

vkv_add_benchmark(memory_benchmark memory_benchmark.cpp)
target_link_libraries(memory_benchmark PRIVATE libcuckoo::libcuckoo)

vkv_add_benchmark(ycsb_benchmark ycsb_benchmark.cpp)
target_link_libraries(ycsb_benchmark PRIVATE libcuckoo::libcuckoo vkv_workload)

vkv_add_benchmark(reclaim_benchmark reclaim_benchmark.cpp)
