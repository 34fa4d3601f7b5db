// vkv::redis::Codec<T>: how values travel to and from Redis.
#pragma once

#include <charconv>
#include <concepts>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace vkv::redis {

// Specialise it for your own types:
//   template <> struct vkv::redis::Codec<MyType> {
//     static std::string encode(const MyType&);
//     static MyType decode(std::string_view);   // throws on malformed input
//   };
// Provided: std::string (the bytes as they are), arithmetic types (decimal text,
// readable with redis-cli), other trivially copyable types (the object's bytes; same
// architecture and compiler only). A decode that throws makes the store throw
// vkv::redis::DecodeError naming the key (see vkv/redis/store.hpp).
template <class T>
struct Codec;

template <>
struct Codec<std::string> {
  static std::string encode(const std::string& value) { return value; }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

template <>
struct Codec<bool> {
  static std::string encode(bool value) { return value ? "1" : "0"; }
  static bool decode(std::string_view text) {
    if (text == "1") return true;
    if (text == "0") return false;
    throw std::invalid_argument("vkv::redis::Codec<bool>: expected 0 or 1");
  }
};

// Arithmetic: decimal text (std::to_chars: the shortest text that reads back exactly).
template <class T>
requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) struct Codec<T> {
  static std::string encode(T value) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    if (ec != std::errc()) throw std::invalid_argument("vkv::redis::Codec: cannot format value");
    return std::string(buffer, end);
  }
  static T decode(std::string_view text) {
    T value{};
    const char* first = text.data();
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(first, last, value);
    if (text.empty() || ec != std::errc() || end != last) {
      throw std::invalid_argument("vkv::redis::Codec: not a number: \"" + std::string(text) + "\"");
    }
    return value;
  }
};

// Other trivially copyable types: the object's bytes; the size is checked on decode.
template <class T>
requires(std::is_trivially_copyable_v<T> && !std::is_arithmetic_v<T> &&
         std::is_default_constructible_v<T>) struct Codec<T> {
  static std::string encode(const T& value) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  static T decode(std::string_view bytes) {
    if (bytes.size() != sizeof(T)) {
      throw std::invalid_argument("vkv::redis::Codec: expected " + std::to_string(sizeof(T)) +
                                  " bytes, got " + std::to_string(bytes.size()));
    }
    T value;
    std::memcpy(static_cast<void*>(&value), bytes.data(), sizeof(T));
    return value;
  }
};

}  // namespace vkv::redis
