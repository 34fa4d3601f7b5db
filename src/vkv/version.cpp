// Version text forms and the version generator's keys.
#include "vkv/version.hpp"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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

namespace {

// fork() copies the parent's keys and every thread record's (index, counter), so a
// child would make exactly the versions its parent goes on making. The child draws new
// keys before it runs anything else.
//
// Why that keeps versions unique: within one process, versions under one pair of keys
// are distinct because the Feistel network is a bijection of (index, counter), and a
// child's counters continue where the parent's stopped, so its inputs never repeat its
// own earlier ones. Across processes (parent and child, or any two processes) the keys
// are independent 128-bit random draws, so two processes' versions are the images of
// their inputs under two independently keyed permutations of 122 bits: they coincide
// with the probability of two random version-4 UUIDs (about n^2 / 2^123 for n versions),
// which is the guarantee RFC 9562 random UUIDs give between machines. Without re-keying
// they would coincide with certainty.
//
// Runs in the child of a possibly multi-threaded parent, where only async-signal-safe
// calls are allowed: getrandom(2) and clock_gettime(2) are system calls; no allocation,
// no locks. Only the forking thread exists in the child, so no one reads the keys while
// they change.
void rekey_after_fork() noexcept {
  std::uint64_t fresh[2] = {0, 0};
  const ssize_t got = getrandom(fresh, sizeof fresh, GRND_NONBLOCK);
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  // Mixed in even when getrandom succeeded; alone (entropy pool not ready, or a
  // seccomp filter) they still differ from the parent's, since the pid is new.
  const std::uint64_t local = (static_cast<std::uint64_t>(getpid()) << 32) ^
                              static_cast<std::uint64_t>(now.tv_nsec) ^
                              (static_cast<std::uint64_t>(now.tv_sec) << 20);
  if (got != static_cast<ssize_t>(sizeof fresh)) {
    fresh[0] ^= version_keys[0];
    fresh[1] ^= version_keys[1];
  }
  version_keys[0] = mix64(fresh[0] ^ local);
  version_keys[1] = mix64(fresh[1] ^ mix64(local + 0x9e3779b97f4a7c15ULL));
}

[[maybe_unused]] const bool fork_handler_installed =
    pthread_atfork(nullptr, nullptr, &rekey_after_fork) == 0;

}  // namespace

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
