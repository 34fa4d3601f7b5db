// Version text forms and the version generator's keys.
#include "vkv/version.hpp"

#include <array>
#include <chrono>
#include <ostream>
#include <random>

#include "vkv/detail/version_generator.hpp"

namespace vkv {

namespace detail {

namespace {
std::array<std::uint64_t, 2> random_keys() noexcept {
  std::uint64_t seed = static_cast<std::uint64_t>(
      std::chrono::high_resolution_clock::now().time_since_epoch().count());
  seed ^= reinterpret_cast<std::uintptr_t>(&seed);
  try {
    std::random_device device;
    seed ^= (static_cast<std::uint64_t>(device()) << 32) ^ device();
    std::uint64_t second = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    return {mix64(seed), mix64(second ^ 0x9e3779b97f4a7c15ULL)};
  } catch (...) {
    return {mix64(seed), mix64(seed + 0x9e3779b97f4a7c15ULL)};
  }
}
const std::array<std::uint64_t, 2> initial_keys = random_keys();
}  // namespace

// Before this TU's dynamic initialisation runs, the keys are zero: versions made that
// early are still unique (the Feistel network is a bijection for any keys).
std::uint64_t version_keys[2] = {initial_keys[0], initial_keys[1]};

}  // namespace detail

namespace {
constexpr char kHex[] = "0123456789abcdef";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_dash_position(std::size_t i) noexcept { return i == 8 || i == 13 || i == 18 || i == 23; }
}  // namespace

std::string Version::to_string() const {
  std::string text(36, '-');
  std::size_t out = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    if (is_dash_position(out)) ++out;
    text[out++] = kHex[uuid_.data[i] >> 4];
    text[out++] = kHex[uuid_.data[i] & 0xf];
  }
  return text;
}

std::optional<Version> Version::parse(std::string_view text) noexcept {
  if (text.size() != 36) return std::nullopt;
  boost::uuids::uuid uuid{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < 36;) {
    if (is_dash_position(i)) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    const int high = hex_value(text[i]);
    const int low = hex_value(text[i + 1]);
    if (high < 0 || low < 0 || is_dash_position(i + 1)) return std::nullopt;
    uuid.data[byte++] = static_cast<std::uint8_t>((high << 4) | low);
    i += 2;
  }
  return Version(uuid);
}

std::ostream& operator<<(std::ostream& out, const Version& version) {
  return out << version.to_string();
}

}  // namespace vkv
