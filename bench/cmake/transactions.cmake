# Batches and the atomic multi-record commit: find_many / update_many against
# loops, and commit against single-record writes and a pessimistic (mutex) peer.
vkv_add_benchmark(batch_benchmark ${PROJECT_SOURCE_DIR}/bench/batch_benchmark.cpp)
vkv_add_benchmark(transaction_benchmark ${PROJECT_SOURCE_DIR}/bench/transaction_benchmark.cpp)
