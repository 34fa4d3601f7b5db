# vkv_lab_core: the race of vkv-lab's demo, shared by the binary and its tests.
# Included from tools/cmake/vkv-lab.cmake and tests/lab/CMakeLists.txt, so the race
# test also exists in builds without tools (the TSan and ASan presets).
include_guard(GLOBAL)
add_library(vkv_lab_core STATIC ${PROJECT_SOURCE_DIR}/tools/vkv-lab/race.cpp)
target_include_directories(vkv_lab_core PUBLIC ${PROJECT_SOURCE_DIR}/tools/vkv-lab)
target_link_libraries(vkv_lab_core PUBLIC vkv::vkv PRIVATE vkv_warnings)
