// vkv::redis: the vkv store over Redis or Redis Cluster (CMake target vkv::redis,
// needs Debian's libhiredis-dev). Not part of the umbrella vkv/vkv.hpp: the core
// library does not need hiredis. See docs/redis.md.
#pragma once

#include "vkv/redis/codec.hpp"    // IWYU pragma: export
#include "vkv/redis/options.hpp"  // IWYU pragma: export
#include "vkv/redis/store.hpp"    // IWYU pragma: export
