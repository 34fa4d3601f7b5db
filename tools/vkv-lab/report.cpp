#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>
#include <thread>
#include <tuple>

namespace vkv::lab {
namespace {

using workload::CellResult;
using workload::Distribution;
using workload::Strategy;

std::string printf_string(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// 1234567 -> "1.23M": goodputs span three orders of magnitude between cells.
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

// "100%" or "37.5%": the write share as typed, without a needless ".0".
std::string share(double fraction) {
  const double value = fraction * 100;
  return printf_string(value == std::round(value) ? "%.0f%%" : "%.1f%%", value);
}

std::string plural(std::size_t count, const char* one, const char* many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

// The cells that share threads, keys and the key distribution: one row of the
// strategy comparison.
struct Scenario {
  std::string label;
  std::vector<const CellResult*> cells;  // one per strategy, in sweep order
};

std::vector<Scenario> scenarios_of(const std::vector<CellResult>& cells) {
  std::vector<Scenario> scenarios;
  std::map<std::tuple<int, std::size_t, int, double, double>, std::size_t> index;
  for (const CellResult& cell : cells) {
    const auto& c = cell.config;
    const auto key =
        std::make_tuple(c.threads, c.keys, static_cast<int>(c.distribution),
                        c.distribution == Distribution::zipf ? c.zipf_theta : 0.0, c.write_share);
    auto [it, inserted] = index.emplace(key, scenarios.size());
    if (inserted) {
      std::string label = plural(static_cast<std::size_t>(c.threads), "thread", "threads") +
                          " \u00d7 " + plural(c.keys, "key", "keys");
      scenarios.push_back(Scenario{std::move(label), {}});
    }
    scenarios[it->second].cells.push_back(&cell);
  }
  return scenarios;
}

std::vector<Strategy> strategies_of(const std::vector<CellResult>& cells) {
  std::vector<Strategy> order;
  for (const CellResult& cell : cells) {
    if (std::find(order.begin(), order.end(), cell.config.strategy) == order.end()) {
      order.push_back(cell.config.strategy);
    }
  }
  return order;
}

const CellResult* cell_for(const Scenario& scenario, Strategy strategy) {
  for (const CellResult* cell : scenario.cells) {
    if (cell->config.strategy == strategy) return cell;
  }
  return nullptr;
}

// The scenarios without the pessimistic (lock-based) cells.
std::vector<Scenario> without_locking(std::vector<Scenario> scenarios) {
  for (Scenario& scenario : scenarios) {
    std::erase_if(scenario.cells, [](const CellResult* cell) {
      return cell->config.strategy == Strategy::pessimistic;
    });
  }
  return scenarios;
}

const CellResult* best_goodput(const Scenario& scenario) {
  const CellResult* best = nullptr;
  for (const CellResult* cell : scenario.cells) {
    if (best == nullptr || cell->goodput > best->goodput) best = cell;
  }
  return best;
}

const CellResult* lowest_p99(const Scenario& scenario) {
  const CellResult* best = nullptr;
  for (const CellResult* cell : scenario.cells) {
    if (cell->committed == 0) continue;  // no latency to speak of
    if (best == nullptr || cell->latency_p99_ns < best->latency_p99_ns) best = cell;
  }
  return best;
}

// Geometric mean over the scenarios of metric(strategy) / metric(baseline); nullopt
// when no scenario has both with positive values.
template <class Metric>
std::optional<double> mean_ratio(const std::vector<Scenario>& scenarios, Strategy strategy,
                                 Strategy baseline, Metric metric) {
  double log_sum = 0;
  int count = 0;
  for (const Scenario& scenario : scenarios) {
    const CellResult* a = cell_for(scenario, strategy);
    const CellResult* b = cell_for(scenario, baseline);
    if (a == nullptr || b == nullptr || metric(*a) <= 0 || metric(*b) <= 0) continue;
    log_sum += std::log(metric(*a) / metric(*b));
    ++count;
  }
  if (count == 0) return std::nullopt;
  return std::exp(log_sum / count);
}

// The strategy that won the most scenarios under pick(); ties go to the earlier one
// in sweep order.
template <class Pick>
std::pair<Strategy, int> most_wins(const std::vector<Scenario>& scenarios,
                                   const std::vector<Strategy>& order, Pick pick) {
  std::map<Strategy, int> wins;
  for (const Scenario& scenario : scenarios) {
    if (const CellResult* winner = pick(scenario)) ++wins[winner->config.strategy];
  }
  std::pair<Strategy, int> best{order.front(), -1};
  for (Strategy strategy : order) {
    if (wins[strategy] > best.second) best = {strategy, wins[strategy]};
  }
  return best;
}

std::string times(double ratio) {
  return printf_string(ratio >= 10 ? "%.0f\u00d7" : "%.2f\u00d7", ratio);
}

std::string json_escape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(ch));
          out += buffer;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";  // JSON has no NaN or infinity
  return printf_string("%.10g", value);
}

// θ only means something for Zipf; uniform cells say null rather than a stale default.
std::string zipf_theta(const workload::CellConfig& config) {
  return config.distribution == Distribution::zipf ? json_number(config.zipf_theta) : "null";
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string customer_text(const Customer& customer) {
  return "{name=\"" + customer.name +
         "\", balance=" + printf_string("%.2f", static_cast<double>(customer.balance_cents) / 100) +
         "}";
}

// Stable colours per strategy (by its position in all_strategies()), so the same
// strategy has the same colour in every chart and every report.
std::string color_of(Strategy strategy) {
  static const char* const kPalette[] = {"#e15759", "#f28e2b", "#4e79a7", "#76b7b2",
                                         "#59a14f", "#b07aa1", "#9c755f", "#bab0ac"};
  const auto all = workload::all_strategies();
  const auto position = std::find(all.begin(), all.end(), strategy) - all.begin();
  return kPalette[static_cast<std::size_t>(position) % (sizeof kPalette / sizeof kPalette[0])];
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks.
double nice_step(double range, int ticks) {
  const double raw = range / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

struct ChartSpec {
  std::string y_label;
  std::string (*format)(double);       // tooltip labels
  std::string (*tick_format)(double);  // axis labels: round numbers, no trailing zeros
  int better = 0;                      // +1: higher is better, -1: lower is better
  bool allow_log = false;              // switch to a log axis when values span > 30x
  const char* metric_name;
};

// A grouped bar chart: one group per scenario, one bar per strategy.
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
double metric_conflicts(const CellResult& c) { return c.conflict_rate; }

// Said wherever pessimistic appears, so its numbers are not misread as vkv's.
constexpr const char* kPessimisticNote =
    "pessimistic is vkv_workload's lock-based baseline: a per-key write lock on a "
    "tbb::concurrent_hash_map held across the read-modify-write of a record updated in "
    "place (value, fresh version, revision), and reads under the read lock; it allocates "
    "nothing per write, so it does less work per write than vkv::Store";

bool has_pessimistic(const std::vector<CellResult>& cells) {
  return std::any_of(cells.begin(), cells.end(), [](const CellResult& cell) {
    return cell.config.strategy == Strategy::pessimistic;
  });
}

std::string sweep_parameters(const std::vector<CellResult>& cells) {
  if (cells.empty()) return "no cells";
  const auto& c = cells.front().config;
  std::string text = std::to_string(c.duration.count()) + " ms per cell, " + share(c.write_share) +
                     " writes, keys chosen ";
  text += c.distribution == Distribution::zipf
              ? "by Zipf (\u03b8 = " + printf_string("%.2f", c.zipf_theta) + ")"
              : "uniformly";
  text += ", seed " + std::to_string(c.seed);
  return text;
}

}  // namespace

Machine describe_machine() {
  Machine machine;
  machine.cpus = std::thread::hardware_concurrency();
  machine.cpu_model = "unknown";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        machine.cpu_model = line.substr(line.find_first_not_of(" \t", colon + 1));
      }
      break;
    }
  }
  std::ifstream loadavg("/proc/loadavg");
  if (!(loadavg >> machine.load_average)) machine.load_average = -1;
  return machine;
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

std::string finding(const std::vector<CellResult>& cells) {
  const auto scenarios = scenarios_of(cells);
  const auto order = strategies_of(cells);
  if (scenarios.empty()) return "Nothing was measured.";
  const std::string of_n =
      " of " + plural(scenarios.size(), "thread\u00d7key setting", "thread\u00d7key settings");
  if (order.size() == 1) {
    return std::string(workload::strategy_name(order.front())) +
           " was the only strategy measured; no comparison to make.";
  }
  const bool have_baseline =
      std::find(order.begin(), order.end(), Strategy::no_backoff) != order.end();
  // "1.9x no-backoff's goodput", "p99 45x lower than no-backoff's": ratios below one
  // read better inverted.
  auto versus_baseline = [&](Strategy strategy, double (*metric)(const CellResult&),
                             const char* what) -> std::string {
    if (!have_baseline || strategy == Strategy::no_backoff) return "";
    const auto ratio = mean_ratio(scenarios, strategy, Strategy::no_backoff, metric);
    if (!ratio) return "";
    if (*ratio >= 0.5) return ", " + times(*ratio) + " no-backoff's " + what;
    return ", " + std::string(what) + " " + times(1 / *ratio) + " lower than no-backoff's";
  };

  const auto [fastest, fastest_wins] = most_wins(scenarios, order, best_goodput);
  std::string text = std::string(workload::strategy_name(fastest)) + " had the best goodput in " +
                     std::to_string(fastest_wins) + of_n +
                     versus_baseline(fastest, metric_goodput, "goodput");
  if (fastest == Strategy::no_backoff) {
    text += ": backing off did not pay at these contention levels";
  }
  // When the lock wins, the question the lab asks (which way to retry) still deserves
  // an answer: the best of the optimistic strategies.
  std::vector<Strategy> optimistic;
  for (Strategy strategy : order) {
    if (strategy != Strategy::pessimistic) optimistic.push_back(strategy);
  }
  if (fastest == Strategy::pessimistic && optimistic.size() > 1) {
    const auto retrying = without_locking(scenarios);
    const auto [best_retry, best_retry_wins] = most_wins(retrying, optimistic, best_goodput);
    text += "; of the retrying strategies, " + std::string(workload::strategy_name(best_retry)) +
            " won " + std::to_string(best_retry_wins) + " of " + std::to_string(scenarios.size()) +
            versus_baseline(best_retry, metric_goodput, "goodput");
  }
  const auto [steadiest, steadiest_wins] = most_wins(scenarios, order, lowest_p99);
  text += "; " + std::string(workload::strategy_name(steadiest)) +
          " had the lowest p99 latency in " + std::to_string(steadiest_wins) + " of " +
          std::to_string(scenarios.size()) + versus_baseline(steadiest, metric_p99, "p99");
  return text + ".";
}

std::string text_table(const std::vector<CellResult>& cells) {
  std::ostringstream out;
  char line[256];
  std::snprintf(line, sizeof line, "  %-22s %-20s %10s %10s %11s %12s\n", "setting", "strategy",
                "goodput/s", "conflicts", "retries/op", "p99 latency");
  out << line;
  for (const Scenario& scenario : scenarios_of(cells)) {
    const CellResult* fastest = best_goodput(scenario);
    const CellResult* steadiest = lowest_p99(scenario);
    bool first = true;
    for (const CellResult* cell : scenario.cells) {
      const std::string goodput = si(cell->goodput) + (cell == fastest ? "*" : " ");
      const std::string p99 =
          micros(cell->latency_p99_ns) + " us" + (cell == steadiest ? "*" : " ");
      // The setting label holds a multi-byte "x" sign; pad it by hand.
      std::string setting = first ? scenario.label : "";
      const std::size_t shown = setting.empty() ? 0 : setting.size() - 1;  // U+00D7: 2 bytes
      setting.append(shown < 22 ? 22 - shown : 0, ' ');
      std::snprintf(line, sizeof line, "  %s %-20s %11s %10s %11.2f %13s\n", setting.c_str(),
                    std::string(workload::strategy_name(cell->config.strategy)).c_str(),
                    goodput.c_str(), percent(cell->conflict_rate).c_str(), cell->retries_mean,
                    p99.c_str());
      out << line;
      first = false;
    }
  }
  out << "  (* best goodput / lowest p99 in its setting; " << sweep_parameters(cells) << ")\n";
  if (has_pessimistic(cells)) out << "  (" << kPessimisticNote << ")\n";
  return out.str();
}

std::string race_story(const RaceSummary& race) {
  std::ostringstream out;
  const PlainRoundTrace& plain = race.plain_first;
  const char* first_writer = plain.a_wrote_last ? "B" : "A";
  const char* last_writer = plain.a_wrote_last ? "A" : "B";
  const Customer& first_written = plain.a_wrote_last ? plain.written_by_b : plain.written_by_a;
  const Customer& last_written = plain.a_wrote_last ? plain.written_by_a : plain.written_by_b;
  const bool rename_kept = plain.final_state.name == kRenamedTo;
  const bool deposit_kept =
      plain.final_state.balance_cents == plain.initial.balance_cents + kDeposit;
  out << "  Plain map (std::unordered_map under a mutex, read / modify / write back):\n"
      << "    A reads        " << customer_text(plain.read_by_a) << '\n'
      << "    B reads        " << customer_text(plain.read_by_b) << '\n'
      << "    " << first_writer << " writes       " << customer_text(first_written) << '\n'
      << "    " << last_writer << " writes       " << customer_text(last_written) << '\n'
      << "    final          " << customer_text(plain.final_state) << "  <- "
      << (rename_kept && deposit_kept ? "both changes kept"
          : rename_kept               ? "the deposit was silently lost"
          : deposit_kept              ? "the rename was silently lost"
                                      : "both changes lost")
      << '\n';

  const VkvRoundTrace& v = race.vkv_first;
  const char loser = v.winner == 'A' ? 'B' : 'A';
  out << "  vkv::Store (update_with_version names the version it read):\n"
      << "    A and B read   " << customer_text(v.read_by_a) << " at version " << v.initial_version
      << '\n'
      << "    " << v.winner << " writes       " << customer_text(v.committed_by_winner)
      << ": committed\n"
      << "    " << loser << " writes       refused: OptimisticLockError: " << v.refusal << '\n'
      << "    " << loser << " re-reads     " << customer_text(v.reread_by_loser)
      << ", applies its change again, commits\n"
      << "    final          " << customer_text(v.final_state) << " revision " << v.final_revision
      << "  <- "
      << (v.final_state.name == kRenamedTo &&
                  v.final_state.balance_cents == v.initial.balance_cents + kDeposit
              ? "both changes survive"
              : "AN UPDATE WAS LOST")
      << '\n';
  out << "  Over " << race.rounds << " rounds (" << 2 * race.rounds
      << " updates each): plain map lost " << race.plain_lost_updates << ", vkv lost "
      << race.vkv_lost_updates << " (" << race.vkv_conflicts
      << " writes refused with OptimisticLockError, " << race.vkv_retries << " retries).\n";
  return out.str();
}

std::string to_json(const Report& report) {
  std::ostringstream out;
  out << "{\n  \"tool\": \"vkv-lab\",\n"
      << "  \"command\": \"" << json_escape(report.command) << "\",\n"
      << "  \"date\": \"" << json_escape(report.date) << "\",\n"
      << "  \"machine\": {\"cpus\": " << report.machine.cpus << ", \"cpu_model\": \""
      << json_escape(report.machine.cpu_model) << "\", \"load_average_1m\": "
      << (report.machine.load_average < 0 ? "null" : json_number(report.machine.load_average))
      << "},\n"
      << "  \"wall_seconds\": " << json_number(report.wall_seconds) << ",\n";
  if (report.race) {
    const RaceSummary& race = *report.race;
    out << "  \"race\": {\"rounds\": " << race.rounds
        << ", \"updates_per_store\": " << 2 * race.rounds
        << ", \"plain_map_lost_updates\": " << race.plain_lost_updates
        << ", \"vkv_lost_updates\": " << race.vkv_lost_updates
        << ", \"vkv_conflicts\": " << race.vkv_conflicts
        << ", \"vkv_retries\": " << race.vkv_retries << "},\n";
  }
  out << "  \"finding\": \"" << json_escape(report.finding) << "\",\n  \"cells\": [";
  bool first = true;
  for (const CellResult& cell : report.cells) {
    const auto& c = cell.config;
    out << (first ? "\n" : ",\n") << "    {\"threads\": " << c.threads << ", \"keys\": " << c.keys
        << ", \"distribution\": \"" << (c.distribution == Distribution::zipf ? "zipf" : "uniform")
        << "\", \"zipf_theta\": " << zipf_theta(c)
        << ", \"write_share\": " << json_number(c.write_share) << ", \"strategy\": \""
        << workload::strategy_name(c.strategy) << "\", \"duration_ms\": " << c.duration.count()
        << ", \"seed\": " << c.seed << ", \"seconds\": " << json_number(cell.seconds)
        << ", \"committed\": " << cell.committed << ", \"writes\": " << cell.writes
        << ", \"reads\": " << cell.reads << ", \"attempts\": " << cell.attempts
        << ", \"conflicts\": " << cell.conflicts << ", \"gave_up\": " << cell.gave_up
        << ", \"goodput\": " << json_number(cell.goodput)
        << ", \"conflict_rate\": " << json_number(cell.conflict_rate)
        << ", \"retries_mean\": " << json_number(cell.retries_mean)
        << ", \"retries_p99\": " << json_number(cell.retries_p99)
        << ", \"latency_p50_ns\": " << json_number(cell.latency_p50_ns)
        << ", \"latency_p99_ns\": " << json_number(cell.latency_p99_ns)
        << ", \"latency_p999_ns\": " << json_number(cell.latency_p999_ns) << "}";
    first = false;
  }
  out << (report.cells.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return out.str();
}

std::string to_csv(const Report& report) {
  std::ostringstream out;
  out << "threads,keys,distribution,zipf_theta,write_share,strategy,duration_ms,seed,seconds,"
         "committed,writes,reads,attempts,conflicts,gave_up,goodput,conflict_rate,retries_mean,"
         "retries_p99,latency_p50_ns,latency_p99_ns,latency_p999_ns\n";
  for (const CellResult& cell : report.cells) {
    const auto& c = cell.config;
    out << c.threads << ',' << c.keys << ','
        << (c.distribution == Distribution::zipf ? "zipf" : "uniform") << ','
        << (c.distribution == Distribution::zipf ? json_number(c.zipf_theta) : "") << ','
        << json_number(c.write_share) << ',' << workload::strategy_name(c.strategy) << ','
        << c.duration.count() << ',' << c.seed << ',' << json_number(cell.seconds) << ','
        << cell.committed << ',' << cell.writes << ',' << cell.reads << ',' << cell.attempts << ','
        << cell.conflicts << ',' << cell.gave_up << ',' << json_number(cell.goodput) << ','
        << json_number(cell.conflict_rate) << ',' << json_number(cell.retries_mean) << ','
        << json_number(cell.retries_p99) << ',' << json_number(cell.latency_p50_ns) << ','
        << json_number(cell.latency_p99_ns) << ',' << json_number(cell.latency_p999_ns) << '\n';
  }
  return out.str();
}

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

  if (!report.cells.empty()) {
    out << "<h3>Goodput (committed operations per second, higher is better)</h3>\n"
        << bar_chart(scenarios, order, metric_goodput,
                     ChartSpec{"goodput (ops/s)", format_si, tick_si, +1, false, "goodput"});
    // A lock-based baseline far above the rest flattens the bars that answer the lab's
    // question (how to retry); show those again on their own scale.
    const auto retrying = without_locking(scenarios);
    double lock_best = 0, retry_best = 0;
    for (const Scenario& scenario : scenarios) {
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
      out << "<h3>Goodput of the retrying strategies alone (pessimistic left out for scale)</h3>\n"
          << bar_chart(retrying, retry_order, metric_goodput,
                       ChartSpec{"goodput (ops/s)", format_si, tick_si, +1, false, "goodput"});
    }
    out << "<h3>p99 latency of one operation, retries included (lower is better)</h3>\n"
        << bar_chart(scenarios, order, metric_p99,
                     ChartSpec{"p99 latency", format_us, tick_us, -1, true, "p99"});
    out << "<h3>Conflict rate (failed attempts / attempts)</h3>\n"
        << bar_chart(scenarios, order, metric_conflicts,
                     ChartSpec{"conflict rate", format_percent, format_percent, 0, false,
                               "conflict rate"});
  }

  out << "<h3>All figures</h3>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">setting</th><th "
         "class=\"l\">strategy</th><th>goodput/s</th><th>conflict rate</th><th>retries/op</th>"
         "<th>retries p99</th><th>p50 \u00b5s</th><th>p99 \u00b5s</th><th>p99.9 \u00b5s</th>"
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
          << "</td><td>" << micros(cell->latency_p999_ns) << "</td><td>" << cell->committed
          << "</td><td>" << cell->attempts << "</td><td>" << cell->gave_up << "</td></tr>\n";
      first = false;
    }
  }
  out << "</table></div>\n<p class=\"meta\">Bold: best goodput and lowest p99 of each setting. Raw "
         "figures: the .json and .csv files written next to this report.</p>\n"
      << "</body>\n</html>\n";
  return out.str();
}

}  // namespace vkv::lab
