// Internal (users never include this directly): node addresses and key hash slots,
// compiled in core/redis/. Exposed for vkv's own tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vkv::redis::detail {

struct Address {
  std::string host;
  int port = 6379;
  friend bool operator==(const Address&, const Address&) = default;
  std::string text() const { return host + ":" + std::to_string(port); }
};

// "redis://host[:port]" (host: an IPv4 literal or a name). Throws std::invalid_argument
// naming the URI when it is malformed.
Address parse_uri(std::string_view uri);

// CRC16-CCITT (XMODEM), the checksum of Redis Cluster's key slots.
std::uint16_t crc16(std::string_view bytes) noexcept;

// The part of a key that is hashed: the text between the first '{' and the first '}'
// after it when that is not empty, else the whole key (the cluster spec's hash tags).
std::string_view hash_tag(std::string_view key) noexcept;

// The key's hash slot, 0..16383.
inline std::uint16_t key_slot(std::string_view key) noexcept {
  return static_cast<std::uint16_t>(crc16(hash_tag(key)) & 16383);
}

}  // namespace vkv::redis::detail
