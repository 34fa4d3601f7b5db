// vkv-lab's HTML report: one self-contained page (inline CSS and SVG, no scripts).
#include <algorithm>
#include <sstream>

#include "analysis.hpp"
#include "chart.hpp"
#include "format.hpp"
#include "report.hpp"
#include "scenarios_lab.hpp"
#include "targets.hpp"

namespace vkv::lab {

using workload::CellResult;
using workload::Strategy;

std::string to_html(const Report& report) {
  const auto scenarios = scenarios_of(report.cells);
  const auto order = strategies_of(report.cells);
  std::ostringstream out;
  out << R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vkv-lab report</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
         color: #1d1d1f; max-width: 1160px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
  h1 { margin-bottom: 0.1em; }
  h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
  .meta { color: #555; font-size: 0.92em; }
  .meta code { background: #f3f3f3; padding: 0.1em 0.35em; border-radius: 3px; }
  .finding { background: #eef5fb; border-left: 4px solid #4e79a7; padding: 0.7em 1em;
             margin: 1.2em 0; font-size: 1.05em; }
  .cards { display: flex; gap: 1em; flex-wrap: wrap; }
  .card { flex: 1 1 300px; border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; }
  .card .big { font-size: 2em; font-weight: 600; }
  .bad { color: #c0392b; } .good { color: #2e7d32; }
  pre { background: #f7f7f7; padding: 0.8em; font-size: 0.85em; white-space: pre-wrap;
        overflow-wrap: anywhere; }
  svg { width: 100%; height: auto; display: block; margin: 0.5em 0 1.5em; }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; font-size: 0.84em; width: 100%; }
  th, td { padding: 0.2em 0.5em; text-align: right; border-bottom: 1px solid #eee;
           white-space: nowrap; font-variant-numeric: tabular-nums; }
  th { background: #fafafa; position: sticky; top: 0; }
  td.l, th.l { text-align: left; }
  tr.first td { border-top: 2px solid #ccc; }
  td.best { font-weight: 700; }
  .swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em;
            vertical-align: baseline; }
</style>
</head>
<body>
<h1>vkv-lab report</h1>
)";
  out << "<p class=\"meta\">" << html_escape(report.date) << " &middot; " << report.machine.cpus
      << " CPUs, " << html_escape(report.machine.cpu_model)
      << (report.machine.load_average < 0
              ? std::string()
              : ", load average " + printf_string("%.1f", report.machine.load_average) +
                    " at the start")
      << " &middot; ran " << printf_string("%.1f", report.wall_seconds) << " s<br>command: <code>"
      << html_escape(report.command) << "</code></p>\n";

  if (report.race) {
    const RaceSummary& race = *report.race;
    out << "<h2>1. The race</h2>\n<p>The seed guide's <em>Race Condition Scenario</em>, played "
           "by two real threads: both read customer <code>cust-123</code>, meet at a barrier, "
           "then write. Worker A renames the customer, worker B deposits "
        << printf_string("%.2f", kDeposit / 100.0) << ". Repeated for " << race.rounds
        << " customers.</p>\n<div class=\"cards\">\n"
        << "<div class=\"card\"><div>Plain map (last writer wins)</div><div class=\"big "
        << (race.plain_lost_updates > 0 ? "bad" : "good") << "\">" << race.plain_lost_updates
        << " lost</div><div>of " << 2 * race.rounds << " updates, silently</div></div>\n"
        << "<div class=\"card\"><div>vkv::Store (version-checked writes)</div><div class=\"big "
        << (race.vkv_lost_updates > 0 ? "bad" : "good") << "\">" << race.vkv_lost_updates
        << " lost</div><div>" << race.vkv_conflicts
        << " writes refused with OptimisticLockError and retried from the current "
           "record</div></div>\n</div>\n<pre>"
        << html_escape(race_story(race)) << "</pre>\n";
  }

  out << "<h2>" << (report.race ? "2. " : "") << "Retry strategies under contention</h2>\n"
      << "<p class=\"meta\">" << report.cells.size() << " cells: "
      << plural(scenarios.size(), "thread\u00d7key setting", "thread\u00d7key settings")
      << " \u00d7 " << plural(order.size(), "strategy", "strategies") << "; "
      << html_escape(sweep_parameters(report.cells))
      << ". Goodput counts committed operations per second; retries/op is the mean number of "
         "retries per committed write."
      << (has_pessimistic(report.cells) ? std::string(" Note: ") + kPessimisticNote + "." : "")
      << "</p>\n";
  out << "<div class=\"finding\"><strong>Finding:</strong> " << html_escape(report.finding)
      << "</div>\n";
  if (has_pessimistic(report.cells)) {
    out << "<h3>The best retrying strategy against the lock, per read share and window</h3>\n"
        << versus_lock_html(report);
  }

  // One set of charts per window: a chart of every setting under every window would
  // crowd its labels, and the comparison that matters is within one window.
  const auto groups = by_window(scenarios);
  for (const std::vector<Scenario>& group : groups) {
    std::vector<Scenario> relabelled = group;
    for (Scenario& scenario : relabelled) scenario.label = setting_only(scenario);
    const std::string suffix = groups.size() > 1 || group.front().window.length.count() > 0
                                   ? " \u2014 " + html_escape(group.front().group)
                                   : std::string();
    out << "<h3>Goodput (committed operations per second, higher is better)" << suffix << "</h3>\n"
        << bar_chart(relabelled, order, metric_goodput,
                     ChartSpec{"goodput (ops/s)", format_si, tick_si, +1, false, "goodput"});
    // A lock-based baseline far above the rest flattens the bars that answer the lab's
    // question (how to retry); show those again on their own scale.
    double lock_best = 0, retry_best = 0;
    for (const Scenario& scenario : relabelled) {
      for (const CellResult* cell : scenario.cells) {
        double& best = cell->config.strategy == Strategy::pessimistic ? lock_best : retry_best;
        best = std::max(best, cell->goodput);
      }
    }
    if (lock_best > 3 * retry_best && retry_best > 0) {
      std::vector<Strategy> retry_order;
      for (Strategy strategy : order) {
        if (strategy != Strategy::pessimistic) retry_order.push_back(strategy);
      }
      out << "<h3>Goodput of the retrying strategies alone (pessimistic left out for scale)"
          << suffix << "</h3>\n"
          << bar_chart(without_locking(relabelled), retry_order, metric_goodput,
                       ChartSpec{"goodput (ops/s)", format_si, tick_si, +1, false, "goodput"});
    }
    out << "<h3>p99 latency of one write, retries and window included (lower is better)" << suffix
        << "</h3>\n"
        << bar_chart(relabelled, order, metric_write_p99,
                     ChartSpec{"write p99 latency", format_us, tick_us, -1, true, "write p99"});
    if (group.front().write_share < 1.0) {
      out << "<h3>p99 latency of one read (lower is better)" << suffix << "</h3>\n"
          << bar_chart(relabelled, order, metric_read_p99,
                       ChartSpec{"read p99 latency", format_us, tick_us, -1, true, "read p99"});
    }
    out << "<h3>Conflict rate (failed attempts / attempts)" << suffix << "</h3>\n"
        << bar_chart(relabelled, order, metric_conflicts,
                     ChartSpec{"conflict rate", format_percent, format_percent, 0, false,
                               "conflict rate"});
  }

  out << "<h3>All figures</h3>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">setting</th><th "
         "class=\"l\">strategy</th><th>goodput/s</th><th>conflict rate</th><th>retries/op</th>"
         "<th>retries p99</th><th>p50 \u00b5s</th><th>p99 \u00b5s</th><th>p99.9 \u00b5s</th>"
         "<th>read p99 \u00b5s</th><th>read max \u00b5s</th>"
         "<th>write p50 \u00b5s</th><th>write p99 \u00b5s</th><th>write p99.9 \u00b5s</th>"
         "<th>committed</th>"
         "<th>attempts</th><th>gave up</th></tr>\n";
  for (const Scenario& scenario : scenarios) {
    const CellResult* fastest = best_goodput(scenario);
    const CellResult* steadiest = lowest_p99(scenario);
    bool first = true;
    for (const CellResult* cell : scenario.cells) {
      out << "<tr" << (first ? " class=\"first\"" : "") << "><td class=\"l\">"
          << (first ? scenario.label : "") << "</td><td class=\"l\"><span class=\"swatch\" "
          << "style=\"background:" << color_of(cell->config.strategy) << "\"></span>"
          << workload::strategy_name(cell->config.strategy) << "</td><td"
          << (cell == fastest ? " class=\"best\"" : "") << ">" << si(cell->goodput) << "</td><td>"
          << percent(cell->conflict_rate) << "</td><td>" << format_retries(cell->retries_mean)
          << "</td><td>" << printf_string("%.0f", cell->retries_p99) << "</td><td>"
          << micros(cell->latency_p50_ns) << "</td><td"
          << (cell == steadiest ? " class=\"best\"" : "") << ">" << micros(cell->latency_p99_ns)
          << "</td><td>" << micros(cell->latency_p999_ns) << "</td><td>"
          << micros(cell->read_latency_p99_ns) << "</td><td>" << micros(cell->read_latency_max_ns)
          << "</td><td>" << micros(cell->write_latency_p50_ns) << "</td><td>"
          << micros(cell->write_latency_p99_ns) << "</td><td>"
          << micros(cell->write_latency_p999_ns) << "</td><td>" << cell->committed << "</td><td>"
          << cell->attempts << "</td><td>" << cell->gave_up << "</td></tr>\n";
      first = false;
    }
  }
  out << "</table></div>\n<p class=\"meta\">Bold: best goodput and lowest p99 of each setting. Raw "
         "figures: the .json and .csv files written next to this report.</p>\n";
  int part = report.race ? 3 : 1;
  if (!report.stalls.empty()) {
    out << "<h2>" << part++ << ". A stalled holder</h2>\n"
        << stall_html(report.stalls, report.stall_finding);
  }
  if (!report.herds.empty()) {
    out << "<h2>" << part++ << ". The thundering herd</h2>\n"
        << herd_html(report.herds, report.herd_finding);
  }
  out << "</body>\n</html>\n";
  return out.str();
}

}  // namespace vkv::lab
