# guide_examples_test: every ```cpp block of docs/guide.md, compiled and run as a test,
# plus the hand-written checks in tests/guide_examples_test.cpp.
#
# tools/extract-guide-snippets.py turns the guide into one translation unit at build
# time. The guide, the script and the public headers are its dependencies, so editing
# any of them regenerates the test (no re-configure needed). Examples of features
# that another change may still be adding carry {requires=<feature>}; the script
# probes the headers for each feature with the compiler (syntax only) each time it
# runs, and an example whose feature does not compile becomes a skipped test instead
# of a broken build (CI fails on any skipped test: tools/run-tests.sh). Probing at build time rather than at configure time means a
# header that gains or loses a feature can never leave a stale answer behind.

function(vkv_guide_examples_test)
  find_package(Python3 COMPONENTS Interpreter)
  if(NOT Python3_Interpreter_FOUND)
    message(WARNING "python3 not found: the examples of docs/guide.md are not compiled")
    return()
  endif()

  set(guide ${PROJECT_SOURCE_DIR}/docs/guide.md)
  set(script ${PROJECT_SOURCE_DIR}/tools/extract-guide-snippets.py)
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/guide_examples_generated.cpp)
  file(GLOB_RECURSE public_headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/vkv/*.hpp)
  # The include path of the library and its dependencies (TBB, Boost), as vkv::vkv
  # hands it to its users.
  set(include_dirs "$<TARGET_PROPERTY:vkv,INTERFACE_INCLUDE_DIRECTORIES>"
                   "$<TARGET_PROPERTY:TBB::tbb,INTERFACE_INCLUDE_DIRECTORIES>"
                   "$<TARGET_PROPERTY:Boost::headers,INTERFACE_INCLUDE_DIRECTORIES>")
  add_custom_command(
    OUTPUT ${generated}
    COMMAND Python3::Interpreter ${script} ${guide} ${generated}
            --display-path=${guide}
            --probe-cxx=${CMAKE_CXX_COMPILER}
            "--probe-flags=${CMAKE_CXX20_STANDARD_COMPILE_OPTION}"
            "--probe-include-dirs=$<JOIN:${include_dirs},|>"
    DEPENDS ${guide} ${script} ${public_headers}
    COMMENT "Extracting the C++ examples of docs/guide.md"
    VERBATIM)

  # Several examples run threads, so the sanitizer jobs (ctest -L concurrency) run them
  # too. One label only: gtest_discover_tests (CMake 3.25) writes a list-valued LABELS
  # property unquoted, so "unit;concurrency" would become LABELS=unit alone.
  vkv_add_test(guide_examples_test ${generated}
               ${PROJECT_SOURCE_DIR}/tests/guide_examples_test.cpp LABELS concurrency)

  # The extractor's own conventions (refused fences, skips, groups, #line), checked on
  # small guides so that a bug there cannot silently drop examples from the test.
  add_test(NAME guide-extractor COMMAND Python3::Interpreter ${script} --self-test)
  set_tests_properties(guide-extractor PROPERTIES LABELS unit)
endfunction()

vkv_guide_examples_test()
