# The instruction-count benchmark: one operation per run, counted by
# tools/icount.sh under valgrind --tool=callgrind. A plain program, not a Google
# Benchmark binary: callgrind's client requests (valgrind/callgrind.h, Debian's
# valgrind package) bracket the counted loop. Built only where the header is.
find_path(VKV_CALLGRIND_INCLUDE valgrind/callgrind.h)
if(VKV_CALLGRIND_INCLUDE)
  add_executable(icount_ops icount/icount_ops.cpp)
  target_link_libraries(icount_ops PRIVATE vkv::vkv vkv_workload vkv_warnings)  # vkv_workload: records.hpp
  target_include_directories(icount_ops PRIVATE ${PROJECT_SOURCE_DIR}/bench)
  target_include_directories(icount_ops SYSTEM PRIVATE ${VKV_CALLGRIND_INCLUDE})
else()
  message(STATUS "vkv: valgrind/callgrind.h not found; icount_ops (tools/icount.sh) not built")
endif()
