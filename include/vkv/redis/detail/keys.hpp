// Internal (users never include this directly): node addresses and key hash slots,
// compiled in src/redis/. Exposed for vkv's own tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vkv::redis::detail {

struct Address {
  std::string host;
  int port = 6379;
  friend bool operator==(const Address&, const Address&) = default;
  std::string text() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

// What AUTH sends (Redis 6 ACL user, or the default user when `user` is empty).
struct Credentials {
  std::string user;
  std::string password;
};

// "redis://[[user]:password@]host[:port]" (host: a name, an IPv4 literal, or an IPv6
// literal in brackets). Throws std::invalid_argument naming the URI when it is
// malformed. The credentials, if any, go to *credentials when it is given.
Address parse_uri(std::string_view uri, Credentials* credentials = nullptr);

// The target of a redirection: "MOVED 3999 127.0.0.1:6381", "ASK 3999 host:6381",
// "MOVED 3999 :6381" (no host: the node that answered, `from`), "MOVED 3999 ::1:6381"
// or "[::1]:6381" (IPv6: the port follows the last ':'). False if malformed.
bool parse_redirect(std::string_view text, const Address& from, Address& target);

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
