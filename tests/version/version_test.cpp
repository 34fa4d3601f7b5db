// Contract tests of vkv::Version (include/vkv/version.hpp): nil default, canonical text form,
// strict parse, hashing, and the shape of the versions the store issues (RFC 9562
// version 4 or 7 with the RFC variant). Uniqueness under concurrency lives in
// tests/stress/write_race_test.cpp because it is multi-threaded.
#include <gtest/gtest.h>

#include <boost/uuid/uuid.hpp>
#include <cctype>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <vector>
#include <vkv/vkv.hpp>

#include "support/contract.hpp"

namespace {

using vkv::Version;
using vkv_contract::Customer;
using vkv_contract::CustomerStore;

constexpr std::string_view kSample = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

boost::uuids::uuid uuid_from_bytes(std::initializer_list<unsigned char> bytes) {
  boost::uuids::uuid u{};
  std::size_t i = 0;
  for (unsigned char b : bytes) u.data[i++] = b;
  return u;
}

// Versions issued by a store: one per write kind, so every write path is covered.
std::vector<Version> issued_versions() {
  CustomerStore store;
  std::vector<Version> out;
  auto r = store.create("a", Customer{"a", 1});
  out.push_back(r.version);
  r = store.update_with_version("a", r.version, Customer{"a", 2});
  out.push_back(r.version);
  r = store.patch_with_version("a", r.version, [](Customer& c) { c.credit += 1; });
  out.push_back(r.version);
  r = store.soft_delete("a", r.version);
  out.push_back(r.version);
  r = store.restore("a", r.version);
  out.push_back(r.version);
  for (int i = 0; i < 200; ++i) {
    r = store.update_with_version("a", r.version, Customer{"a", i});
    out.push_back(r.version);
  }
  return out;
}

TEST(VersionTest, DefaultIsNil) {
  Version v;
  EXPECT_TRUE(v.is_nil());
  EXPECT_EQ(v.to_string(), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(v, Version(boost::uuids::uuid{}));
  static_assert(std::is_nothrow_default_constructible_v<Version>);
}

TEST(VersionTest, WrapsAndExposesTheUuid) {
  auto u = uuid_from_bytes({0x7c, 0x9e, 0x66, 0x79, 0x74, 0x25, 0x40, 0xde, 0x94, 0x4b, 0xe0, 0x7f,
                            0xc1, 0xf9, 0x0a, 0xe7});
  Version v(u);
  EXPECT_FALSE(v.is_nil());
  EXPECT_EQ(v.uuid(), u);
  EXPECT_EQ(v.to_string(), kSample);
  static_assert(!std::is_convertible_v<boost::uuids::uuid, Version>, "the constructor is explicit");
}

TEST(VersionTest, ToStringIsCanonicalLowercase) {
  for (const Version& v : issued_versions()) {
    std::string s = v.to_string();
    ASSERT_EQ(s.size(), 36u) << s;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        EXPECT_EQ(s[i], '-') << s;
      } else {
        EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(s[i])) &&
                    !std::isupper(static_cast<unsigned char>(s[i])))
            << s;
      }
    }
  }
}

TEST(VersionTest, StreamOperatorPrintsToString) {
  auto v = *Version::parse(kSample);
  std::ostringstream os;
  os << v;
  EXPECT_EQ(os.str(), kSample);
}

TEST(VersionTest, ParseRoundTrips) {
  for (const Version& v : issued_versions()) {
    auto parsed = Version::parse(v.to_string());
    ASSERT_TRUE(parsed.has_value()) << v;
    EXPECT_EQ(*parsed, v);
    EXPECT_EQ(parsed->to_string(), v.to_string());
  }
  auto nil = Version::parse("00000000-0000-0000-0000-000000000000");
  ASSERT_TRUE(nil.has_value());
  EXPECT_TRUE(nil->is_nil());
}

TEST(VersionTest, ParseAcceptsAnyCanonicalUuidNotOnlyV4OrV7) {
  // parse() checks the text form, not the UUID version: a v1 UUID is well-formed.
  auto v1 = Version::parse("c232ab00-9414-11ec-b3c8-9f6bdeced846");
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->uuid().data[6] >> 4, 1);
}

TEST(VersionTest, ParseAcceptsUpperAndMixedCase) {
  auto lower = Version::parse(kSample);
  auto upper = Version::parse("7C9E6679-7425-40DE-944B-E07FC1F90AE7");
  auto mixed = Version::parse("7c9E6679-7425-40dE-944b-E07fc1f90Ae7");
  ASSERT_TRUE(lower && upper && mixed);
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(*lower, *mixed);
  EXPECT_EQ(upper->to_string(), kSample) << "to_string is always lower case";
}

TEST(VersionTest, ParseRejectsMalformedText) {
  const std::string valid(kSample);
  std::vector<std::string> bad = {
      "",
      valid.substr(0, 35),                     // too short
      valid + "0",                             // too long
      "7c9e6679742540de944be07fc1f90ae7",      // no dashes (32 hex)
      "7c9e667-97425-40de-944b-e07fc1f90ae7",  // dash misplaced
      "7c9e6679-742540de-944b-e07fc1f90ae7-",  // dash moved to the end
      "7c9e6679-7425-40de-944b-e07fc1f90ag7",  // non-hex letter
      "7c9e6679-7425-40de-944b-e07fc1f9 ae7",  // space inside
      "7c9e6679-7425-40de-944b+e07fc1f90ae7",  // wrong separator
      "7c9e6679-7425-40de-944b-e07fc1f90ae",   // one hex digit short
      "{" + valid + "}",                       // braces
      "urn:uuid:" + valid,                     // URN prefix
      valid + " ",                             // trailing whitespace
      valid + "\n",
      " " + valid,  // leading whitespace
      "7c9e6679-7425-40de-944b-e07fc1f90ae7g",
      "0x9e6679-7425-40de-944b-e07fc1f90ae7",  // 0x prefix in the first group
      "-7c9e6679-7425-40de-944b-e07fc1f90ae",
  };
  // Embedded NUL: in place of a digit, and after a full valid string (string_view keeps
  // the length, so a C-string parser would be fooled by both).
  std::string nul_inside = valid;
  nul_inside[20] = '\0';
  bad.push_back(nul_inside);
  bad.push_back(valid + std::string(1, '\0'));

  for (const std::string& text : bad) {
    EXPECT_FALSE(Version::parse(std::string_view(text)).has_value())
        << "accepted malformed \"" << text << "\" (length " << text.size() << ")";
  }
  static_assert(noexcept(Version::parse(std::string_view{})));
}

TEST(VersionTest, EqualityAndInequality) {
  auto a = *Version::parse(kSample);
  auto b = *Version::parse("7c9e6679-7425-40de-944b-e07fc1f90ae8");
  EXPECT_TRUE(a == a);
  EXPECT_FALSE(a != a);
  EXPECT_TRUE(a != b);
  EXPECT_FALSE(a == b);
  EXPECT_NE(a, Version{});
}

TEST(VersionTest, StdHashWorksAndSpreads) {
  auto a = *Version::parse(kSample);
  auto a_upper = *Version::parse("7C9E6679-7425-40DE-944B-E07FC1F90AE7");
  std::hash<Version> h;
  EXPECT_EQ(h(a), h(a_upper)) << "equal versions must hash equally";

  auto versions = issued_versions();
  std::unordered_set<Version> set(versions.begin(), versions.end());
  EXPECT_EQ(set.size(), versions.size());
  for (const auto& v : versions) EXPECT_EQ(set.count(v), 1u);

  // Not a guarantee of the standard, but a constant or truncated hash would make the
  // store's own hash tables degenerate: nearly all hashes of distinct versions differ.
  std::unordered_set<std::size_t> hashes;
  for (const auto& v : versions) hashes.insert(h(v));
  EXPECT_GE(hashes.size(), versions.size() - 2);
}

TEST(VersionTest, StoreIssuesRfc9562V4OrV7WithRfcVariant) {
  for (const Version& v : issued_versions()) {
    ASSERT_FALSE(v.is_nil());
    const auto& d = v.uuid().data;
    int version_nibble = d[6] >> 4;
    EXPECT_TRUE(version_nibble == 4 || version_nibble == 7)
        << v << " has version nibble " << version_nibble;
    EXPECT_EQ(d[8] & 0xC0, 0x80) << v << " does not carry the RFC 9562 variant bits (10xx)";
  }
}

TEST(VersionTest, EveryWriteIssuesADistinctVersion) {
  auto versions = issued_versions();
  std::unordered_set<Version> set(versions.begin(), versions.end());
  EXPECT_EQ(set.size(), versions.size());
}

TEST(VersionTest, TwoStoresNeverShareAVersion) {
  // Same ids, same values, same sequence of writes: only the versions may tell them
  // apart, and they must (a version names one state of one record, whatever the store).
  auto first = issued_versions();
  auto second = issued_versions();
  std::unordered_set<Version> set(first.begin(), first.end());
  for (const auto& v : second) EXPECT_EQ(set.count(v), 0u) << v << " issued by both stores";
}

}  // namespace
