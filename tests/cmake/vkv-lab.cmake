# vkv-lab (tools/vkv-lab): the race logic, in every build (the sanitizer presets build
# no tools but still run it), and the command line, where the tools are built.
include(${PROJECT_SOURCE_DIR}/tools/vkv-lab/vkv_lab_core.cmake)

vkv_add_test(vkv_lab_race_test ${CMAKE_CURRENT_SOURCE_DIR}/vkv-lab/race_test.cpp
  LABELS concurrency)
target_link_libraries(vkv_lab_race_test PRIVATE vkv_lab_core)

if(VKV_BUILD_TOOLS)
  # Runs the built binary: argument errors, and a tiny sweep whose report files are
  # parsed back. The sweep runs threads, so the sanitizer jobs take it too when they
  # build tools.
  vkv_add_test(vkv_lab_cli_test ${CMAKE_CURRENT_SOURCE_DIR}/vkv-lab/cli_test.cpp
    LABELS "unit;concurrency")
  target_compile_definitions(vkv_lab_cli_test PRIVATE VKV_LAB_BINARY="$<TARGET_FILE:vkv-lab>")
  add_dependencies(vkv_lab_cli_test vkv-lab)
endif()
