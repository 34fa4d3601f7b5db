// vkv::redis::Codec: round trips and malformed input of the three built-in cases.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "vkv/redis.hpp"

namespace {

using vkv::redis::Codec;

struct Point {
  std::int32_t x;
  std::int32_t y;
  double weight;
};

template <class T>
T round_trip(const T& value) {
  return Codec<T>::decode(Codec<T>::encode(value));
}

TEST(RedisCodec, StringsTravelAsTheirBytes) {
  const std::string binary("a\0b\xff\r\n", 6);
  EXPECT_EQ(Codec<std::string>::encode(binary), binary);
  EXPECT_EQ(round_trip(binary), binary);
  EXPECT_EQ(round_trip(std::string()), "");
}

TEST(RedisCodec, ArithmeticIsDecimalText) {
  EXPECT_EQ(Codec<int>::encode(-42), "-42");
  EXPECT_EQ(Codec<std::uint64_t>::encode(18446744073709551615ULL), "18446744073709551615");
  EXPECT_EQ(Codec<double>::encode(0.1), "0.1");
  EXPECT_EQ(Codec<bool>::encode(true), "1");
  EXPECT_EQ(round_trip(std::numeric_limits<std::int64_t>::min()),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(round_trip(1.0 / 3.0), 1.0 / 3.0);  // shortest text that reads back exactly
  EXPECT_EQ(round_trip(-0.0f), -0.0f);
  EXPECT_EQ(round_trip(false), false);
  EXPECT_EQ(round_trip(static_cast<std::uint8_t>(255)), 255);
}

TEST(RedisCodec, MalformedNumbersThrow) {
  EXPECT_THROW(Codec<int>::decode(""), std::invalid_argument);
  EXPECT_THROW(Codec<int>::decode("12a"), std::invalid_argument);
  EXPECT_THROW(Codec<int>::decode(" 12"), std::invalid_argument);
  EXPECT_THROW(Codec<int>::decode("99999999999"), std::invalid_argument);  // out of range
  EXPECT_THROW(Codec<unsigned>::decode("-1"), std::invalid_argument);
  EXPECT_THROW(Codec<double>::decode("1.5x"), std::invalid_argument);
  EXPECT_THROW(Codec<bool>::decode("true"), std::invalid_argument);
  EXPECT_EQ(Codec<int>::decode("-7"), -7);
}

TEST(RedisCodec, TriviallyCopyableTypesTravelAsObjectBytes) {
  const Point p{3, -4, 2.5};
  const std::string bytes = Codec<Point>::encode(p);
  EXPECT_EQ(bytes.size(), sizeof(Point));
  const Point back = round_trip(p);
  EXPECT_EQ(back.x, 3);
  EXPECT_EQ(back.y, -4);
  EXPECT_EQ(back.weight, 2.5);
  EXPECT_THROW(Codec<Point>::decode(bytes.substr(1)), std::invalid_argument);
  EXPECT_THROW(Codec<Point>::decode(bytes + "x"), std::invalid_argument);
}

}  // namespace
