// Internal to vkv-lab: how numbers and text are written in its tables, charts and
// report files (one place, so every output rounds the same way).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vkv::lab {

// snprintf of one double, e.g. printf_string("%.2f", 1.5).
std::string printf_string(const char* format, double value);
// 1234567 -> "1.23M": goodputs span three orders of magnitude between cells.
std::string si(double value);
// Nanoseconds as microseconds with 2-3 significant digits (no unit).
std::string micros(double nanoseconds);
// 0.123 -> "12.3%".
std::string percent(double fraction);
// "100%" or "37.5%": a write share as typed, without a needless ".0".
std::string share(double fraction);
// "1 key", "8 keys".
std::string plural(std::size_t count, const char* one, const char* many);
// 1.234 -> "1.23×", 12.3 -> "12×".
std::string times(double ratio);
// Characters as a terminal shows them (UTF-8 code points), for padding columns.
std::size_t display_width(std::string_view text);

std::string json_escape(std::string_view text);
// A JSON number, or null for NaN and infinities (JSON has neither).
std::string json_number(double value);
// For attribute values and text: & < > and " escaped.
std::string html_escape(std::string_view text);
// For element text only (quotes kept, as in the cache report's <pre> of counters).
std::string html_text_escape(std::string_view text);

}  // namespace vkv::lab
