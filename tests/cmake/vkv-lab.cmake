# vkv-lab (tools/vkv-lab): the race logic, in every build, and the command line, where
# the tools are built (every preset and the plain build do, so CI runs both sanitized).
include(${PROJECT_SOURCE_DIR}/tools/vkv-lab/vkv_lab_core.cmake)

vkv_add_test(vkv_lab_race_test ${CMAKE_CURRENT_SOURCE_DIR}/vkv-lab/race_test.cpp
  LABELS concurrency)
target_link_libraries(vkv_lab_race_test PRIVATE vkv_lab_core)

if(VKV_BUILD_TOOLS)
  # Runs the built binary: argument errors, and a tiny sweep (real threads) whose
  # report files are parsed back; labelled concurrency for the threads it starts.
  vkv_add_test(vkv_lab_cli_test ${CMAKE_CURRENT_SOURCE_DIR}/vkv-lab/cli_test.cpp
    LABELS concurrency)
  target_compile_definitions(vkv_lab_cli_test PRIVATE VKV_LAB_BINARY="$<TARGET_FILE:vkv-lab>")
  add_dependencies(vkv_lab_cli_test vkv-lab)
endif()
if(VKV_BUILD_TOOLS)
  # The stalled holder and the thundering herd (vkv-lab stall / herd): bad input, and
  # small runs whose printed counts satisfy each scenario's invariants.
  vkv_add_test(vkv_lab_scenarios_test ${CMAKE_CURRENT_SOURCE_DIR}/vkv-lab/scenarios_cli_test.cpp
    LABELS concurrency)
  target_compile_definitions(vkv_lab_scenarios_test PRIVATE VKV_LAB_BINARY="$<TARGET_FILE:vkv-lab>")
  add_dependencies(vkv_lab_scenarios_test vkv-lab)
endif()
