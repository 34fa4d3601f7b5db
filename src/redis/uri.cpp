// Parsing node URIs: "redis://[[user]:password@]host[:port]", host a name, an IPv4
// literal or a bracketed IPv6 literal ("redis://[::1]:7000").
#include <charconv>
#include <stdexcept>
#include <string>

#include "vkv/redis/detail/keys.hpp"

namespace vkv::redis::detail {

namespace {

[[noreturn]] void malformed(std::string_view uri, const char* why) {
  throw std::invalid_argument("vkv::redis: malformed node URI \"" + std::string(uri) +
                              "\": " + why);
}

bool host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool ipv6_char(char c) noexcept {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

}  // namespace

Address parse_uri(std::string_view uri, Credentials* credentials) {
  constexpr std::string_view scheme = "redis://";
  if (uri.substr(0, scheme.size()) != scheme) {
    malformed(uri, "expected redis://[[user]:password@]host[:port]");
  }
  std::string_view rest = uri.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // "redis://h:1/" is fine
  const std::size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos || colon + 1 == userinfo.size()) {
      malformed(uri, "credentials must be user:password or :password");
    }
    if (credentials != nullptr) {
      credentials->user = std::string(userinfo.substr(0, colon));
      credentials->password = std::string(userinfo.substr(colon + 1));
    }
    rest = rest.substr(at + 1);
  }
  std::string_view host;
  std::string_view after;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) malformed(uri, "an IPv6 host needs its closing ']'");
    host = rest.substr(1, close - 1);
    if (host.empty()) malformed(uri, "no host");
    for (char c : host) {
      if (!ipv6_char(c)) malformed(uri, "the IPv6 host holds a character outside [0-9a-f:.]");
    }
    after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') malformed(uri, "junk after the IPv6 host");
  } else {
    const std::size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (host.empty()) malformed(uri, "no host");
    for (char c : host) {
      if (!host_char(c)) malformed(uri, "the host holds a character outside [A-Za-z0-9._-]");
    }
    after = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
  }
  Address address;
  address.host = std::string(host);
  if (!after.empty()) {
    const std::string_view port = after.substr(1);
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535) {
      malformed(uri, "the port is not a number in 1..65535");
    }
    address.port = value;
  }
  return address;
}

bool parse_redirect(std::string_view text, const Address& from, Address& target) {
  const std::size_t space = text.rfind(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view address = text.substr(space + 1);
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  int port = 0;
  const std::string_view digits = address.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port < 1 || port > 65535) {
    return false;
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  target.host = host.empty() ? from.host : std::string(host);
  target.port = port;
  return true;
}

}  // namespace vkv::redis::detail
