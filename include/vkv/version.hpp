// vkv::Version: the UUID that names one state of one record.
#pragma once

#include <boost/uuid/uuid.hpp>
#include <cstddef>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace vkv {

// An RFC 9562 UUID naming one state of one record. The store makes a fresh one on
// every successful write (version 4: see docs/design.md, "Versions") and never
// issues the same version twice within a process.
//
// Thread safety: a Version is a 16-byte value; const members may be called
// concurrently, like any value type.
class Version {
 public:
  Version() noexcept : uuid_{} {}  // the nil UUID
  explicit Version(const boost::uuids::uuid& uuid) noexcept : uuid_(uuid) {}

  const boost::uuids::uuid& uuid() const noexcept { return uuid_; }
  bool is_nil() const noexcept { return uuid_.is_nil(); }

  // The canonical 8-4-4-4-12 form in lower case, 36 characters.
  std::string to_string() const;

  // Accepts exactly the canonical 8-4-4-4-12 hex form, in either case (mixed case
  // too). Anything else — braces, a "urn:uuid:" prefix, whitespace, 32 bare hex
  // digits — is malformed and gives nullopt.
  static std::optional<Version> parse(std::string_view text) noexcept;

  friend bool operator==(const Version& a, const Version& b) noexcept {
    return std::memcmp(a.uuid_.data, b.uuid_.data, 16) == 0;
  }
  friend bool operator!=(const Version& a, const Version& b) noexcept { return !(a == b); }

 private:
  boost::uuids::uuid uuid_;
};

std::ostream& operator<<(std::ostream& out, const Version& version);

}  // namespace vkv

template <>
struct std::hash<vkv::Version> {
  std::size_t operator()(const vkv::Version& version) const noexcept {
    // The bits are already (pseudo-)random; fold the two halves.
    std::uint64_t halves[2];
    std::memcpy(halves, version.uuid().data, 16);
    return static_cast<std::size_t>(halves[0] ^ (halves[1] * 0x9e3779b97f4a7c15ULL));
  }
};
