# vkv-lab: the contention and retry-strategy lab (the README's main command).
# The sweep engine is vkv_workload (src/workload); arguments are parsed by CLI11.
find_package(CLI11 CONFIG REQUIRED)
include(${PROJECT_SOURCE_DIR}/tools/vkv-lab/vkv_lab_core.cmake)

add_executable(vkv-lab
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/main.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/cache_lab.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/analysis.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/chart.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/format.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/html.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/output.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/report.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/scenarios_lab.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/scenario_commands.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/targets.cpp
  ${PROJECT_SOURCE_DIR}/tools/vkv-lab/sweep.cpp)
target_link_libraries(vkv-lab PRIVATE vkv_lab_core vkv_workload vkv::vkv vkv_warnings CLI11::CLI11)
# vkv-lab race|sweep --redis (tools/vkv-lab/redis_*.cpp): only where vkv::redis is built.
if(TARGET vkv::redis)
  target_sources(vkv-lab PRIVATE
    ${PROJECT_SOURCE_DIR}/tools/vkv-lab/redis_race.cpp
    ${PROJECT_SOURCE_DIR}/tools/vkv-lab/redis_lock.cpp
    ${PROJECT_SOURCE_DIR}/tools/vkv-lab/redis_sweep.cpp)
  target_compile_definitions(vkv-lab PRIVATE VKV_LAB_REDIS=1)
  # g++ 12's -Wrestrict false positive on `"text" + std::to_string(n)` at -O3 (GCC bug
  # 105651; see tests/CMakeLists.txt): off for these files on g++ < 13 only.
  set_source_files_properties(
    ${PROJECT_SOURCE_DIR}/tools/vkv-lab/redis_race.cpp
    ${PROJECT_SOURCE_DIR}/tools/vkv-lab/redis_lock.cpp
    ${PROJECT_SOURCE_DIR}/tools/vkv-lab/redis_sweep.cpp
    PROPERTIES COMPILE_OPTIONS "$<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict>")
  target_link_libraries(vkv-lab PRIVATE vkv::redis)
endif()
if(VKV_INSTALL)
  install(TARGETS vkv-lab RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
