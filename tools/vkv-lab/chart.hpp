// Internal to vkv-lab: the inline SVG bar charts of the HTML report (no scripts, no
// external assets), and the metrics and number formats they plot.
#pragma once

#include <string>
#include <vector>

#include "analysis.hpp"

namespace vkv::lab {

// Stable colours per strategy (by its position in all_strategies()), so the same
// strategy has the same colour in every chart and every report.
std::string color_of(workload::Strategy strategy);

struct ChartSpec {
  std::string y_label;
  std::string (*format)(double);       // tooltip labels
  std::string (*tick_format)(double);  // axis labels: round numbers, no trailing zeros
  int better = 0;                      // +1: higher is better, -1: lower is better
  bool allow_log = false;              // switch to a log axis when values span > 30x
  const char* metric_name;
};

// A grouped bar chart: one group per scenario (labelled with its label), one bar per
// strategy in `order`; the best bar of each group is marked when spec.better != 0.
std::string bar_chart(const std::vector<Scenario>& scenarios,
                      const std::vector<workload::Strategy>& order,
                      double (*metric)(const workload::CellResult&), const ChartSpec& spec);

std::string format_si(double v);
std::string format_us(double ns);
std::string tick_si(double v);
std::string tick_us(double ns);
std::string format_percent(double f);
std::string format_retries(double r);

double metric_goodput(const workload::CellResult& c);
double metric_p99(const workload::CellResult& c);
double metric_write_p99(const workload::CellResult& c);
double metric_read_p99(const workload::CellResult& c);
double metric_conflicts(const workload::CellResult& c);

}  // namespace vkv::lab
