// vkv::Record: one record as a reader sees it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
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
  // When the record expires (StoreOptions::default_ttl, WriteOptions::ttl); nullopt =
  // never.
  std::optional<std::chrono::steady_clock::time_point> expires_at{};
};

// The same fields by reference, for Store::visit(): valid only during the call, while
// the record's memory is protected from reclamation.
template <class T, class Key = std::string>
struct RecordView {
  const Key& id;
  const T& value;
  const Version& version;
  std::uint64_t revision;
  bool deleted;
  // When the record expires; nullopt = never.
  std::optional<std::chrono::steady_clock::time_point> expires_at;
};

}  // namespace vkv
