#include "targets.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "analysis.hpp"
#include "format.hpp"
#include "scenarios_lab.hpp"

namespace vkv::lab {
namespace {

using workload::CellResult;
using workload::Strategy;

struct Row {
  std::string reads, window, ratio, ahead, read_p99, winners;
};

std::vector<Row> versus_lock_rows(const Report& report) {
  std::vector<Row> rows;
  for (const GroupVersusLock& g : versus_lock(report.cells)) {
    Row row;
    row.reads = read_share_label(g.write_share);
    row.window = window_label(g.window);
    row.ratio = g.settings > 1
                    ? times(g.low) + "\u2013" + times(g.high) + " (mean " + times(g.mean) + ")"
                    : times(g.mean);
    row.ahead = std::to_string(g.ahead) + " of " + std::to_string(g.settings);
    row.read_p99 = g.read_p99_ratio > 0 ? times(g.read_p99_ratio) : "\u2014";
    row.winners = g.winners;
    rows.push_back(std::move(row));
  }
  return rows;
}

struct Target {
  std::string what, target, measured;
  bool met = false;
};

// The lab's targets, measured on this report.
std::vector<Target> targets(const Report& report) {
  std::vector<Target> list;
  const auto scenarios = scenarios_of(report.cells);
  // 1 and 2: settings with >= 90 % reads and a window >= 10 us.
  int settings = 0, ahead = 0;
  double worst_read = 0;
  for (const Scenario& s : scenarios) {
    if (s.write_share > 0.1 + 1e-9 || s.window.length < std::chrono::microseconds(10)) continue;
    const CellResult* lock = cell_for(s, Strategy::pessimistic);
    const CellResult* retry = best_retrying(s);
    if (lock == nullptr || retry == nullptr) continue;
    ++settings;
    if (retry->goodput > lock->goodput) ++ahead;
    if (lock->read_latency_p99_ns > 0) {
      worst_read = std::max(worst_read, retry->read_latency_p99_ns / lock->read_latency_p99_ns);
    }
  }
  if (settings > 0) {
    list.push_back(
        {"settings with \u2265 90 % reads and a window \u2265 10 \u00b5s where the best "
         "retrying strategy beats the lock",
         "every one", std::to_string(ahead) + " of " + std::to_string(settings),
         ahead == settings});
    list.push_back({"read p99 in those settings, best retrying strategy vs lock (worst setting)",
                    "\u2264 0.25\u00d7", printf_string("%.3f\u00d7", worst_read),
                    worst_read <= 0.25});
  }
  // 3: the stalled holder.
  const workload::StallResult* lock_stall = nullptr;
  const workload::StallResult* vkv_stall = nullptr;
  for (const auto& r : report.stalls) {
    if (r.config.strategy == Strategy::pessimistic) {
      lock_stall = &r;
    } else if (vkv_stall == nullptr || r.reads_during_stall < vkv_stall->reads_during_stall) {
      vkv_stall = &r;  // the weaker retrying run
    }
  }
  if (lock_stall != nullptr && vkv_stall != nullptr) {
    const double ratio =
        static_cast<double>(vkv_stall->reads_during_stall) /
        static_cast<double>(std::max<std::uint64_t>(1, lock_stall->reads_during_stall));
    list.push_back({"stalled holder: reads completed during the stall, vkv (weaker run) vs lock",
                    "\u2265 10\u00d7",
                    std::to_string(vkv_stall->reads_during_stall) + " vs " +
                        std::to_string(lock_stall->reads_during_stall) +
                        (lock_stall->reads_during_stall == 0 ? " (\u2265 " : " (") +
                        printf_string("%.0f\u00d7)", ratio),
                    ratio >= 10});
  }
  // 4: write p99 of every strategy in every cell.
  int cells = 0, within = 0;
  std::string worst_cell;
  double worst_excess = 0;
  for (const Scenario& s : scenarios) {
    const CellResult* lock = cell_for(s, Strategy::pessimistic);
    if (lock == nullptr) continue;
    const double limit = std::max(10 * lock->write_latency_p99_ns, 2e6);
    for (const CellResult* c : s.cells) {
      if (c == lock || c->writes == 0) continue;
      ++cells;
      if (c->write_latency_p99_ns <= limit) {
        ++within;
      } else if (c->write_latency_p99_ns / limit > worst_excess) {
        worst_excess = c->write_latency_p99_ns / limit;
        worst_cell = std::string(workload::strategy_name(c->config.strategy)) + ", " + s.label +
                     ": " + micros(c->write_latency_p99_ns) + " \u00b5s";
      }
    }
  }
  if (cells > 0) {
    list.push_back({"write p99, every retrying strategy, every cell",
                    "\u2264 max(10\u00d7 the lock's, 2 ms)",
                    std::to_string(within) + " of " + std::to_string(cells) + " cells" +
                        (worst_cell.empty() ? "" : "; worst " + worst_cell),
                    within == cells});
  }
  // 5: adaptive against the best pure strategy.
  int adaptive_settings = 0, adaptive_ok = 0;
  double adaptive_worst = INFINITY;
  for (const Scenario& s : scenarios) {
    const CellResult* adaptive = cell_for(s, Strategy::adaptive);
    const CellResult* best = nullptr;
    for (const CellResult* c : s.cells) {
      const Strategy st = c->config.strategy;
      if (st == Strategy::adaptive || st == Strategy::pessimistic) continue;
      if (best == nullptr || c->goodput > best->goodput) best = c;
    }
    if (adaptive == nullptr || best == nullptr || best->goodput <= 0) continue;
    ++adaptive_settings;
    const double ratio = adaptive->goodput / best->goodput;
    adaptive_worst = std::min(adaptive_worst, ratio);
    if (ratio >= 0.95) ++adaptive_ok;
  }
  if (adaptive_settings > 0) {
    list.push_back({"adaptive vs the best pure retrying strategy's goodput, every cell",
                    "\u2265 0.95\u00d7",
                    std::to_string(adaptive_ok) + " of " + std::to_string(adaptive_settings) +
                        " settings; lowest " + printf_string("%.2f\u00d7", adaptive_worst),
                    adaptive_ok == adaptive_settings});
  }
  if (report.race) {
    list.push_back({"demo wall time (race + sweep + stall + herd + report)", "< 60 s",
                    printf_string("%.1f s", report.wall_seconds), report.wall_seconds < 60});
  }
  return list;
}

std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

std::string versus_lock_text(const Report& report) {
  std::ostringstream out;
  for (const Row& row : versus_lock_rows(report)) {
    out << "  " << row.reads << ", " << row.window << ": best retrying vs lock " << row.ratio
        << ", ahead in " << row.ahead << ", read p99 vs lock " << row.read_p99
        << "; best goodput: " << row.winners << '\n';
  }
  return out.str();
}

std::string versus_lock_markdown(const Report& report) {
  std::ostringstream out;
  out << "| reads | window | best retrying strategy vs the lock (goodput) | ahead in | read p99 "
         "vs the lock | best goodput, per setting |\n|---|---|---|---|---|---|\n";
  for (const Row& row : versus_lock_rows(report)) {
    out << "| " << row.reads << " | " << row.window << " | " << row.ratio << " | " << row.ahead
        << " | " << row.read_p99 << " | " << cell(row.winners) << " |\n";
  }
  return out.str();
}

std::string versus_lock_html(const Report& report) {
  std::ostringstream out;
  out << "<div class=\"scroll\"><table>\n<tr><th class=\"l\">reads</th><th class=\"l\">window</th>"
         "<th>best retrying vs lock (goodput)</th><th>ahead in</th><th>read p99 vs lock</th>"
         "<th class=\"l\">best goodput, per setting</th></tr>\n";
  for (const Row& row : versus_lock_rows(report)) {
    out << "<tr><td class=\"l\">" << html_escape(row.reads) << "</td><td class=\"l\">"
        << html_escape(row.window) << "</td><td>" << html_escape(row.ratio) << "</td><td>"
        << html_escape(row.ahead) << "</td><td>" << html_escape(row.read_p99)
        << "</td><td class=\"l\">" << html_escape(row.winners) << "</td></tr>\n";
  }
  out << "</table></div>\n";
  return out.str();
}

std::string targets_text(const Report& report) {
  std::ostringstream out;
  for (const Target& t : targets(report)) {
    out << "  [" << (t.met ? "met" : "MISSED") << "] " << t.what << ": " << t.measured
        << " (target " << t.target << ")\n";
  }
  return out.str();
}

std::string targets_markdown(const Report& report) {
  std::ostringstream out;
  out << "| what | target | measured | met |\n|---|---|---|---|\n";
  for (const Target& t : targets(report)) {
    out << "| " << cell(t.what) << " | " << cell(t.target) << " | " << cell(t.measured) << " | "
        << (t.met ? "yes" : "**no**") << " |\n";
  }
  return out.str();
}

std::string finding_markdown(const Report& report) {
  std::ostringstream out;
  out << "Measured by `" << report.command << "` on " << report.date << ": " << report.machine.cpus
      << " CPUs (" << report.machine.cpu_model << ")"
      << (report.machine.load_average < 0
              ? std::string()
              : printf_string(", load average %.1f at the start", report.machine.load_average))
      << "; " << sweep_parameters(report.cells) << ".\n\n"
      << "**Per read share and window** (one hot key, 2 and 8 threads):\n\n"
      << versus_lock_markdown(report) << "\n**Finding:** " << report.finding << "\n\n";
  if (!report.stalls.empty()) {
    out << "**A stalled holder:** " << report.stall_finding << "\n\n";
  }
  if (!report.herds.empty()) {
    out << "**The thundering herd:** " << report.herd_finding << "\n\n";
  }
  out << "**" << kTargetsHeading << "**\n\n" << targets_markdown(report);
  return out.str();
}

}  // namespace vkv::lab
