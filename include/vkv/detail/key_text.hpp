// Internal (users never include this directly): keys rendered as text for errors and
// events: as-is when string-like, std::to_string when arithmetic, else operator<<.
#pragma once

#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace vkv::detail {

template <class Key>
std::string key_text(const Key& key) {
  if constexpr (std::is_convertible_v<const Key&, std::string_view>) {
    return std::string(std::string_view(key));
  } else if constexpr (std::is_same_v<Key, bool>) {
    return key ? "true" : "false";
  } else if constexpr (std::is_arithmetic_v<Key>) {
    return std::to_string(key);
  } else {
    std::ostringstream out;
    out << key;
    return out.str();
  }
}

}  // namespace vkv::detail
