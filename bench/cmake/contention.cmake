# Retry strategies, contention-adaptive mode and stats overhead. The
# cells run through vkv_workload (src/workload), shared with vkv-lab.
vkv_add_benchmark(contention_benchmark ${PROJECT_SOURCE_DIR}/bench/contention_benchmark.cpp)
target_link_libraries(contention_benchmark PRIVATE vkv_workload)
