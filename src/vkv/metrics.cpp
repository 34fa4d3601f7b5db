// Rendering of StoreStats for metrics endpoints (vkv/metrics.hpp).
#include "vkv/metrics.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace vkv {

namespace {

struct Field {
  std::string_view name;
  std::string_view help;
  std::uint64_t StoreStats::*member;
};

// Declaration order of StoreStats.
constexpr std::array<Field, 10> kFields{{
    {"reads", "Keys looked up by find and find_many.", &StoreStats::reads},
    {"creates", "Successful creates.", &StoreStats::creates},
    {"writes", "Successful version-checked writes of every kind.", &StoreStats::writes},
    {"conflicts", "Failed version checks.", &StoreStats::conflicts},
    {"not_found", "Writes refused as not found.", &StoreStats::not_found},
    {"retries", "Retries made by update_with_retry.", &StoreStats::retries},
    {"retries_exhausted", "update_with_retry calls that spent their retries.",
     &StoreStats::retries_exhausted},
    {"expirations", "Records removed because they expired.", &StoreStats::expirations},
    {"evictions", "Records removed by the capacity bound.", &StoreStats::evictions},
    {"turns", "update_with_retry attempts made holding a key's turn.", &StoreStats::turns},
}};

// A label value per the exposition format: \ -> \\, " -> \", newline -> \n.
std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string to_prometheus(const StoreStats& stats, std::string_view entity_type) {
  // Appended piece by piece: g++ 12's -O3 -Wrestrict false positive (GCC 105651) fires
  // on `"literal" + std::string&&`, and a user's plain build must not warn.
  std::string label = "{entity_type=\"";
  label += escape_label(entity_type);
  label += "\"}";
  std::string out;
  for (const Field& field : kFields) {
    std::string name = "vkv_";
    name += field.name;
    name += "_total";
    out.append("# HELP ").append(name).append(" ").append(field.help).append("\n");
    out.append("# TYPE ").append(name).append(" counter\n");
    out.append(name).append(label).append(" ");
    out.append(std::to_string(stats.*field.member)).append("\n");
  }
  return out;
}

std::string to_json(const StoreStats& stats) {
  std::string out = "{";
  for (const Field& field : kFields) {
    out.append("\"").append(field.name).append("\":");
    out.append(std::to_string(stats.*field.member)).append(",");
  }
  char rate[32];
  std::snprintf(rate, sizeof rate, "%.17g", stats.conflict_rate());
  out += "\"conflict_rate\":";
  out += rate;
  out += "}";
  return out;
}

}  // namespace vkv
