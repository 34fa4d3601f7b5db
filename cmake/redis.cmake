# vkv::redis: the store over Redis / Redis Cluster (include/vkv/redis.hpp, core/redis/).
# Built only when Debian's libhiredis-dev is found through pkg-config; the core
# library never needs hiredis.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET hiredis)
endif()
if(NOT HIREDIS_FOUND)
  message(STATUS "vkv: hiredis not found (libhiredis-dev): vkv::redis is not built")
  return()
endif()

add_library(vkv_redis
  core/redis/uri.cpp
  core/redis/slots.cpp
  core/redis/connection.cpp
  core/redis/pool.cpp
  core/redis/scripts.cpp
  core/redis/router.cpp
  core/redis/replies.cpp
  core/redis/resolve.cpp
  core/redis/client.cpp
)
add_library(vkv::redis ALIAS vkv_redis)
target_link_libraries(vkv_redis PUBLIC vkv PkgConfig::HIREDIS)
target_link_libraries(vkv_redis PRIVATE $<BUILD_INTERFACE:vkv_warnings>)
target_include_directories(vkv_redis PRIVATE ${PROJECT_SOURCE_DIR}/core/redis)
set_target_properties(vkv_redis PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME redis)

if(VKV_INSTALL)
  # A separate export set: vkv-config.cmake loads it only when it finds hiredis.
  install(TARGETS vkv_redis EXPORT vkv-redis-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT vkv-redis-targets NAMESPACE vkv:: FILE vkv-redis-targets.cmake
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vkv)
endif()
