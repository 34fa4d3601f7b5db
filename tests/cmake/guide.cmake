# guide_examples_test: every ```cpp block of docs/guide.md, compiled and run as a test.
#
# tools/extract-guide-snippets.py turns the guide into one translation unit at build
# time; the guide and the script are dependencies of that step, so editing either
# regenerates the test. Examples of features that another change is still adding
# (update_with_retry, find_many/update_many, Transaction, ...) carry
# {requires=<feature>}; the probes below find out at configure time which features
# this tree compiles, and the examples that need a missing one are reported as
# skipped tests instead of breaking the build.

function(vkv_guide_examples_test)
  find_package(Python3 COMPONENTS Interpreter)
  if(NOT Python3_Interpreter_FOUND)
    message(WARNING "python3 not found: docs/guide.md examples are not compiled")
    return()
  endif()

  include(CheckCXXSourceCompiles)
  # Probes compile only (no link): the features are templates in the headers.
  set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
  set(CMAKE_CXX_STANDARD 20)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
  set(CMAKE_REQUIRED_INCLUDES ${PROJECT_SOURCE_DIR}/include)
  set(CMAKE_REQUIRED_LIBRARIES TBB::tbb Boost::headers)
  set(CMAKE_REQUIRED_QUIET ON)

  # A probe's cached answer stays valid while the public headers are unchanged;
  # when they change, the next configure probes again (a new feature turns its
  # examples on without a fresh build directory).
  file(GLOB_RECURSE headers ${PROJECT_SOURCE_DIR}/include/vkv/*.hpp)
  set(fingerprint "")
  foreach(header IN LISTS headers)
    file(MD5 ${header} header_md5)
    string(APPEND fingerprint "${header}:${header_md5};")
  endforeach()
  string(MD5 fingerprint "${fingerprint}")

  set(common [=[
#include <vkv/vkv.hpp>
#include <string>
struct P { std::string s; long n; };
using S = vkv::Store<P>;
using R = S::record_type;
]=])
  set(probe_stats [=[
double probe(const S& s) {
  vkv::StoreStats st = s.stats();
  return st.conflict_rate() + double(st.reads + st.creates + st.writes + st.conflicts +
                                     st.not_found + st.retries + st.retries_exhausted);
}
]=])
  set(probe_retry [=[
int probe() {
  vkv::RetryPolicy policy;
  policy.max_retries = 5;
  policy.retry_delay = std::chrono::microseconds(10);
  policy.max_delay = std::chrono::milliseconds(1);
  policy.backoff_multiplier = 2.0;
  policy.jitter = vkv::Jitter::equal;
  policy.on_retry = [](const vkv::RetryEvent& e) { (void)e.attempt; (void)e.delay; };
  return vkv::with_optimistic_retry([] { return 1; }, policy);
}
]=])
  set(probe_contention [=[
std::uint64_t probe() {
  vkv::StoreOptions o;
  o.contention_adaptive = true;
  o.contention_threshold = 0.25;
  o.contention_max_wait = std::chrono::microseconds(100);
  S s(o);
  return s.stats().turns;
}
]=])
  set(probe_update_with_retry [=[
R probe(S& s) { return s.update_with_retry("k", [](P& p) { p.n += 1; }, vkv::RetryPolicy{}); }
]=])
  set(probe_batch [=[
#include <span>
#include <vector>
void probe(S& s) {
  std::vector<std::string> ids{"a", "b"};
  std::vector<std::optional<R>> found = s.find_many(ids);
  found = s.find_many(std::span<const std::string>(ids), vkv::ReadOptions{});
  std::vector<S::VersionedWrite> writes{{"a", vkv::Version{}, P{"x", 1}}};
  std::vector<vkv::Result<R>> results = s.update_many(writes);
  (void)results;
}
]=])
  set(probe_transaction [=[
#include <vector>
void probe(S& s, const vkv::Version& v) {
  vkv::Transaction<P> tx;
  tx.check("a", v).update("b", v, P{"x", 1}).soft_delete("c", v).erase("d", v);
  std::vector<R> written = s.commit(tx);
  vkv::Result<std::vector<R>> outcome = s.try_commit(tx);
  (void)written; (void)outcome;
}
]=])

  if(NOT "${VKV_GUIDE_PROBE_FINGERPRINT}" STREQUAL "${fingerprint}")
    foreach(feature IN ITEMS retry update_with_retry batch transaction stats contention)
      unset(VKV_GUIDE_HAS_${feature} CACHE)
    endforeach()
    set(VKV_GUIDE_PROBE_FINGERPRINT "${fingerprint}" CACHE INTERNAL "public headers the guide probes saw")
  endif()

  set(features "")
  foreach(feature IN ITEMS retry update_with_retry batch transaction stats contention)
    check_cxx_source_compiles("${common}${probe_${feature}}" VKV_GUIDE_HAS_${feature})
    if(VKV_GUIDE_HAS_${feature})
      list(APPEND features ${feature})
    endif()
  endforeach()
  list(JOIN features "," feature_arg)
  message(STATUS "docs/guide.md examples: features found: ${feature_arg}")

  set(guide ${PROJECT_SOURCE_DIR}/docs/guide.md)
  set(script ${PROJECT_SOURCE_DIR}/tools/extract-guide-snippets.py)
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/guide_examples_generated.cpp)
  add_custom_command(
    OUTPUT ${generated}
    COMMAND Python3::Interpreter ${script} ${guide} ${generated}
            --features=${feature_arg} --display-path=${guide}
    DEPENDS ${guide} ${script}
    COMMENT "Extracting the C++ examples of docs/guide.md"
    VERBATIM)
  # Several examples run threads, so the sanitizer jobs (ctest -L concurrency) run them too.
  # One label only: gtest_discover_tests (CMake 3.25) writes a list-valued LABELS
  # property unquoted, so "unit;concurrency" would become LABELS=unit alone.
  vkv_add_test(guide_examples_test ${generated}
               ${PROJECT_SOURCE_DIR}/tests/guide_examples_test.cpp LABELS concurrency)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # The guide writes StoreOptions{.entity_type = "Customer"}, the idiomatic C++20 form;
    # g++ 12 -Wextra flags every member left to its default there that has no default
    # member initializer (std::function members), which clang and the standard accept.
    target_compile_options(guide_examples_test PRIVATE -Wno-missing-field-initializers)
  endif()
endfunction()

vkv_guide_examples_test()
