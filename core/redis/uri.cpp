// Parsing node URIs: "redis://host[:port]".
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

}  // namespace

Address parse_uri(std::string_view uri) {
  constexpr std::string_view scheme = "redis://";
  if (uri.substr(0, scheme.size()) != scheme) malformed(uri, "expected redis://host[:port]");
  std::string_view rest = uri.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // "redis://h:1/" is fine
  const std::size_t colon = rest.find(':');
  const std::string_view host = rest.substr(0, colon);
  if (host.empty()) malformed(uri, "no host");
  for (char c : host) {
    if (!host_char(c)) malformed(uri, "the host holds a character outside [A-Za-z0-9._-]");
  }
  Address address;
  address.host = std::string(host);
  if (colon != std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
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

}  // namespace vkv::redis::detail
