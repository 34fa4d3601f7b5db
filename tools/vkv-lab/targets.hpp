// Internal to vkv-lab: the demo's conclusions as tables, computed from the measured
// figures only: per read share and window, how the best retrying strategy fared against
// the lock; and the lab's targets, each with its measured figure and whether it was met.
// Written to the terminal, the HTML report and vkv-lab-finding.md (the block
// tools/docs/lab-doc.sh puts into docs/lab.md).
#pragma once

#include <string>

#include "report.hpp"

namespace vkv::lab {

// One row per (read share, window): the best retrying strategy's goodput over the
// lock's (lowest-highest, geometric mean), where it was ahead, read p99 against the
// lock's, and which strategy won where.
std::string versus_lock_text(const Report& report);
std::string versus_lock_markdown(const Report& report);
std::string versus_lock_html(const Report& report);

// The heading above the targets in the terminal and in vkv-lab-finding.md.
inline constexpr const char* kTargetsHeading = "The lab's targets, as measured in this run:";

// Each target: what, the target, the measured figure, met or not.
std::string targets_text(const Report& report);
std::string targets_markdown(const Report& report);

// The whole generated block for docs/lab.md: provenance, the per-share table, the
// stalled holder, the herd and the targets.
std::string finding_markdown(const Report& report);

}  // namespace vkv::lab
