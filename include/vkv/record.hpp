// vkv::Record: one record as a reader sees it.
#pragma once

#include <cstdint>
#include <string>

#include "vkv/version.hpp"

namespace vkv {

// A copy of one state of one record. Plain value type.
template <class T, class Key = std::string>
struct Record {
  Key id;
  T value;
  Version version{};           // changes on every successful write of this record
  std::uint64_t revision = 0;  // 1 after create, +1 on every later successful write
  bool deleted = false;        // soft-deleted
};

}  // namespace vkv
