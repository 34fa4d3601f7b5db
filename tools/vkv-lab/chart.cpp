#include "chart.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "format.hpp"

namespace vkv::lab {
namespace {

using workload::CellResult;
using workload::Strategy;

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks.
double nice_step(double range, int ticks) {
  const double raw = range / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

}  // namespace

std::string color_of(Strategy strategy) {
  static const char* const kPalette[] = {"#e15759", "#f28e2b", "#4e79a7", "#76b7b2",
                                         "#59a14f", "#b07aa1", "#9c755f", "#bab0ac"};
  const auto all = workload::all_strategies();
  const auto position = std::find(all.begin(), all.end(), strategy) - all.begin();
  return kPalette[static_cast<std::size_t>(position) % (sizeof kPalette / sizeof kPalette[0])];
}

std::string bar_chart(const std::vector<Scenario>& scenarios, const std::vector<Strategy>& order,
                      double (*metric)(const CellResult&), const ChartSpec& spec) {
  constexpr double kWidth = 1040, kHeight = 400;
  constexpr double kLeft = 84, kRight = 16, kTop = 54, kBottom = 48;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;

  double max_value = 0, min_positive = INFINITY;
  for (const Scenario& scenario : scenarios) {
    for (const CellResult* cell : scenario.cells) {
      const double v = metric(*cell);
      if (!std::isfinite(v)) continue;
      max_value = std::max(max_value, v);
      if (v > 0) min_positive = std::min(min_positive, v);
    }
  }
  const bool log_axis =
      spec.allow_log && std::isfinite(min_positive) && max_value / min_positive > 30;
  double axis_low = 0, axis_high = 1;
  std::vector<double> ticks;
  if (log_axis) {
    axis_low = std::pow(10.0, std::floor(std::log10(min_positive)));
    axis_high = std::pow(10.0, std::ceil(std::log10(max_value)));
    if (axis_high <= axis_low) axis_high = axis_low * 10;
    for (double decade = axis_low; decade <= axis_high * 1.0001; decade *= 10) {
      ticks.push_back(decade);
    }
  } else {
    const double step = nice_step(max_value > 0 ? max_value : 1, 5);
    axis_high = std::ceil((max_value > 0 ? max_value : 1) / step) * step;
    for (double tick = 0; tick <= axis_high * 1.0001; tick += step) ticks.push_back(tick);
  }
  auto y_of = [&](double v) {
    double t;
    if (log_axis) {
      t = v <= 0 ? 0
                 : (std::log10(v) - std::log10(axis_low)) /
                       (std::log10(axis_high) - std::log10(axis_low));
    } else {
      t = (v - axis_low) / (axis_high - axis_low);
    }
    t = std::clamp(t, 0.0, 1.0);
    return kTop + plot_h * (1 - t);
  };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kWidth << ' ' << kHeight
      << "\" role=\"img\" aria-label=\"" << html_escape(spec.y_label) << "\" "
      << "font-family=\"system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif\" "
         "font-size=\"12\">\n";
  // Legend, one row across the top.
  double legend_x = kLeft;
  for (Strategy strategy : order) {
    const std::string name(workload::strategy_name(strategy));
    svg << "<rect x=\"" << legend_x << "\" y=\"10\" width=\"12\" height=\"12\" fill=\""
        << color_of(strategy) << "\"/><text x=\"" << legend_x + 16 << "\" y=\"20\">" << name
        << "</text>\n";
    legend_x += 28 + 7.2 * static_cast<double>(name.size());
  }
  if (spec.better != 0) {
    // The same downward marker the bars carry.
    svg << "<path d=\"M" << legend_x + 1 << " 11 l10 0 l-5 9 z\" fill=\"#222\"/><text x=\""
        << legend_x + 16 << "\" y=\"20\">" << (spec.better > 0 ? "best" : "lowest")
        << " in its group</text>\n";
  }
  // Grid and y axis.
  for (double tick : ticks) {
    const double y = y_of(tick);
    svg << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << y << "\" y2=\""
        << y << "\" stroke=\"#e3e3e3\"/>"
        << "<text x=\"" << kLeft - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
        << spec.tick_format(tick) << "</text>\n";
  }
  svg << "<text transform=\"translate(18," << kTop + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">" << html_escape(spec.y_label)
      << (log_axis ? " (log scale)" : "") << "</text>\n";
  svg << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft << "\" y1=\"" << kTop << "\" y2=\""
      << kTop + plot_h << "\" stroke=\"#444\"/>\n";
  svg << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << kTop + plot_h
      << "\" y2=\"" << kTop + plot_h << "\" stroke=\"#444\"/>\n";

  // Bars.
  const double group_w = plot_w / static_cast<double>(std::max<std::size_t>(1, scenarios.size()));
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<std::size_t>(1, order.size()));
  for (std::size_t g = 0; g < scenarios.size(); ++g) {
    const Scenario& scenario = scenarios[g];
    const double group_x = kLeft + group_w * static_cast<double>(g) + group_w * 0.1;
    const CellResult* best = nullptr;
    for (const CellResult* cell : scenario.cells) {
      const double v = metric(*cell);
      if (!std::isfinite(v) || (spec.better < 0 && cell->committed == 0)) continue;
      if (best == nullptr || (spec.better > 0 ? v > metric(*best) : v < metric(*best))) {
        best = cell;
      }
    }
    for (std::size_t s = 0; s < order.size(); ++s) {
      const CellResult* cell = cell_for(scenario, order[s]);
      if (cell == nullptr) continue;
      const double v = metric(*cell);
      const double x = group_x + bar_w * static_cast<double>(s);
      const double y = std::isfinite(v) ? y_of(v) : kTop + plot_h;
      const double h = std::max(0.0, kTop + plot_h - y);
      svg << "<rect x=\"" << x + 1 << "\" y=\"" << y << "\" width=\"" << std::max(1.0, bar_w - 2)
          << "\" height=\"" << h << "\" fill=\"" << color_of(order[s]) << "\"><title>"
          << workload::strategy_name(order[s]) << ", " << scenario.label << ": " << spec.metric_name
          << ' ' << spec.format(v) << "</title></rect>\n";
      if (spec.better != 0 && cell == best) {
        const double cx = x + bar_w / 2;
        svg << "<path d=\"M" << cx << ' ' << y - 3 << " l5 -9 l-10 0 z\" fill=\"#222\"/>\n";
      }
    }
    svg << "<text x=\"" << group_x + group_w * 0.4 << "\" y=\"" << kTop + plot_h + 20
        << "\" text-anchor=\"middle\" font-size=\"13\">" << scenario.label << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string format_si(double v) { return si(v); }
std::string format_us(double ns) { return micros(ns) + " \u00b5s"; }
std::string tick_si(double v) {
  if (v >= 1e6) return printf_string("%gM", v / 1e6);
  if (v >= 1e3) return printf_string("%gk", v / 1e3);
  return printf_string("%g", v);
}
std::string tick_us(double ns) { return printf_string("%g \u00b5s", ns / 1e3); }
std::string format_percent(double f) { return printf_string("%.0f%%", f * 100); }
std::string format_retries(double r) { return printf_string("%.2f", r); }

double metric_goodput(const CellResult& c) { return c.goodput; }
double metric_p99(const CellResult& c) { return c.latency_p99_ns; }
double metric_write_p99(const CellResult& c) { return c.write_latency_p99_ns; }
double metric_read_p99(const CellResult& c) { return c.read_latency_p99_ns; }
double metric_conflicts(const CellResult& c) { return c.conflict_rate; }

}  // namespace vkv::lab
