# The cache layer: expiry / capacity-bound overhead on find, visit and
# update_with_version, the bound under two filling threads, and the hit rate of the
# sampled LRU against exact LRU on a Zipfian trace.
vkv_add_benchmark(cache_benchmark ${PROJECT_SOURCE_DIR}/bench/cache_benchmark.cpp)
target_link_libraries(cache_benchmark PRIVATE vkv_workload)
