// The lab's command line, shared by every subcommand (sweep, cache, stall, herd): an
// option declared with its default shown, and numbers parsed from an option's text
// (all of the text is the number, or it is bad input; each subcommand keeps its own
// wording for a value out of range).
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

namespace vkv::lab {

// `flag` on `command`, its value kept as text in `value` and parsed later; --help names
// the value `type` and shows `value`'s initial text as the default.
inline CLI::Option* text_option(CLI::App* command, const std::string& flag, std::string& value,
                                const std::string& help, const std::string& type) {
  return command->add_option(flag, value, help)->type_name(type)->default_str(value);
}

// All of `text` as a whole number (an optional '-' and digits); nullopt otherwise.
inline std::optional<long long> whole_number(const std::string& text) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// All of `text` as a finite number (std::stod's syntax); nullopt otherwise.
inline std::optional<double> real_number(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (used == 0 || used != text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

// whole_number(text) within [low, high]. Throws std::invalid_argument
// "<flag>: '<text>' is not a whole number" or
// "<flag>: [<what> ]must be between <low> and <high>, got <text>".
inline long long whole_in(const std::string& flag, const std::string& text, long long low,
                          long long high, const std::string& what = {}) {
  const auto value = whole_number(text);
  if (!value) throw std::invalid_argument(flag + ": '" + text + "' is not a whole number");
  if (*value < low || *value > high) {
    throw std::invalid_argument(flag + ": " + (what.empty() ? "" : what + " ") +
                                "must be between " + std::to_string(low) + " and " +
                                std::to_string(high) + ", got " + text);
  }
  return *value;
}

}  // namespace vkv::lab
