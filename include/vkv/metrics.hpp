// vkv::to_prometheus / vkv::to_json: a store's counters, rendered for a service's
// metrics endpoint.
//
// Thread safety: pure functions of their arguments; call them from any thread.
#pragma once

#include <string>
#include <string_view>

#include "vkv/stats.hpp"

namespace vkv {

// Prometheus text exposition format 0.0.4: for each StoreStats counter a HELP line, a
// TYPE line ("counter") and one sample named vkv_<field>_total, labelled
// entity_type="<entity_type>" (the label value escaped: backslash, double quote and
// newline). Ends with a newline.
std::string to_prometheus(const StoreStats& stats, std::string_view entity_type);

// One JSON object: {"reads":N,...,"turns":N,"conflict_rate":X}, fields in declaration
// order, no whitespace.
std::string to_json(const StoreStats& stats);

}  // namespace vkv
