#include "format.hpp"

#include <cmath>
#include <cstdio>

namespace vkv::lab {

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string si(double value) {
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e9) return printf_string("%.2fG", value / 1e9);
  if (magnitude >= 1e6) return printf_string("%.2fM", value / 1e6);
  if (magnitude >= 1e4) return printf_string("%.0fk", value / 1e3);
  if (magnitude >= 1e3) return printf_string("%.1fk", value / 1e3);
  return printf_string("%.0f", value);
}

std::string micros(double nanoseconds) {
  const double us = nanoseconds / 1e3;
  if (us >= 1000) return printf_string("%.0f", us);
  if (us >= 10) return printf_string("%.1f", us);
  return printf_string("%.2f", us);
}

std::string percent(double fraction) { return printf_string("%.1f%%", fraction * 100); }

std::string share(double fraction) {
  const double value = fraction * 100;
  return printf_string(value == std::round(value) ? "%.0f%%" : "%.1f%%", value);
}

std::string plural(std::size_t count, const char* one, const char* many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

std::string times(double ratio) {
  return printf_string(ratio >= 10 ? "%.0f\u00d7" : "%.2f\u00d7", ratio);
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  for (const char ch : text) {
    if ((static_cast<unsigned char>(ch) & 0xC0) != 0x80) ++width;  // not a continuation byte
  }
  return width;
}

namespace {

struct Escape {
  char ch;
  const char* as;
};

// Copies text with each character in `table` replaced by its escape; `other` may
// replace any other character (it returns false to keep the character).
template <std::size_t N, class Other>
std::string escaped(std::string_view text, const Escape (&table)[N], Other other) {
  std::string out;
  for (const char ch : text) {
    const Escape* hit = nullptr;
    for (const Escape& e : table) {
      if (e.ch == ch) hit = &e;
    }
    if (hit != nullptr) {
      out += hit->as;
    } else if (!other(ch, out)) {
      out += ch;
    }
  }
  return out;
}

}  // namespace

std::string json_escape(std::string_view text) {
  static constexpr Escape kJson[] = {
      {'"', "\\\""}, {'\\', "\\\\"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}};
  return escaped(text, kJson, [](char ch, std::string& out) {
    if (static_cast<unsigned char>(ch) >= 0x20) return false;
    char buffer[8];
    std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(ch));
    out += buffer;
    return true;
  });
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  return printf_string("%.10g", value);
}

std::string html_escape(std::string_view text) {
  static constexpr Escape kHtml[] = {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}};
  return escaped(text, kHtml, [](char, std::string&) { return false; });
}

std::string html_text_escape(std::string_view text) {
  static constexpr Escape kHtmlText[] = {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}};
  return escaped(text, kHtmlText, [](char, std::string&) { return false; });
}

}  // namespace vkv::lab
