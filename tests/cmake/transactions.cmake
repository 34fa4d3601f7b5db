# Batches and the atomic multi-record commit (issue 7): contract tests, stress tests
# with invariants, and a multi-key linearizability check.
# transaction_test replaces the global operator new (allocation-failure injection),
# so it is a binary of its own.
vkv_add_test(transaction_test ${PROJECT_SOURCE_DIR}/tests/transaction_test.cpp)
vkv_add_test(batch_test ${PROJECT_SOURCE_DIR}/tests/batch_test.cpp)
vkv_add_test(transaction_stress_test
  ${PROJECT_SOURCE_DIR}/tests/stress/transaction_stress_test.cpp LABELS concurrency)
vkv_add_test(tx_lin_test ${PROJECT_SOURCE_DIR}/tests/lin/tx_lin_test.cpp LABELS concurrency)
# Lock-free commits under attack (issue 12): writers with stale and fresh versions,
# duplicate creates and erases on every key of repeated commits; attempts per commit.
vkv_add_test(commit_attack_test
  ${PROJECT_SOURCE_DIR}/tests/stress/commit_attack_test.cpp LABELS concurrency)
vkv_add_test(tx_attack_lin_test ${PROJECT_SOURCE_DIR}/tests/lin/tx_attack_lin_test.cpp
  LABELS concurrency)
# The commit protocol with a stalled owner, deterministic: a writer finishes the commit.
vkv_add_test(commit_protocol_test ${PROJECT_SOURCE_DIR}/tests/commit_protocol_test.cpp
  LABELS concurrency)
# Helping terminates: the erase / re-create interleaving that made two commits help
# each other without bound, injected through the protocol's preemption hook.
vkv_add_test(commit_helping_test ${PROJECT_SOURCE_DIR}/tests/commit_helping_test.cpp
  LABELS concurrency)
# A committer parked by the preemption hook while a churn thread erases, re-creates,
# updates and puts its long keys: A's outcome and the churn history fit one
# linearization, checked against a model (issue 19, realistic inputs).
vkv_add_test(commit_preempted_churn_test
  ${PROJECT_SOURCE_DIR}/tests/commit_preempted_churn_test.cpp LABELS concurrency)
