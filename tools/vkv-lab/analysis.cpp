#include "analysis.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "format.hpp"

namespace vkv::lab {
namespace {

using workload::CellResult;
using workload::Distribution;
using workload::Strategy;

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

// Wins per strategy under pick(), in `order`; ties in a scenario go to pick()'s choice.
template <class Pick>
std::map<Strategy, std::vector<const Scenario*>> winners(const std::vector<Scenario>& scenarios,
                                                         Pick pick) {
  std::map<Strategy, std::vector<const Scenario*>> wins;
  for (const Scenario& scenario : scenarios) {
    if (const CellResult* winner = pick(scenario)) {
      wins[winner->config.strategy].push_back(&scenario);
    }
  }
  return wins;
}

// The strategy that won the most scenarios under pick(); ties go to the earlier one
// in sweep order.
template <class Pick>
std::pair<Strategy, int> most_wins(const std::vector<Scenario>& scenarios,
                                   const std::vector<Strategy>& order, Pick pick) {
  auto wins = winners(scenarios, pick);
  std::pair<Strategy, int> best{order.front(), -1};
  for (Strategy strategy : order) {
    const int count = static_cast<int>(wins[strategy].size());
    if (count > best.second) best = {strategy, count};
  }
  return best;
}

double metric_goodput(const CellResult& c) { return c.goodput; }
double metric_p99(const CellResult& c) { return c.latency_p99_ns; }

// "pessimistic in 3 of 4 (2 threads × 1 key, ...), full-jitter in 1 (8 threads × 8 keys)".
std::string where_each_wins(const std::vector<Scenario>& group,
                            const std::vector<Strategy>& order) {
  auto wins = winners(group, best_goodput);
  std::vector<Strategy> ranked;
  for (Strategy strategy : order) {
    if (!wins[strategy].empty()) ranked.push_back(strategy);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](Strategy a, Strategy b) { return wins[a].size() > wins[b].size(); });
  std::string text;
  for (Strategy strategy : ranked) {
    const auto& won = wins[strategy];
    if (!text.empty()) text += ", ";
    text += std::string(workload::strategy_name(strategy)) + " in " + std::to_string(won.size());
    if (strategy == ranked.front()) text += " of " + std::to_string(group.size());
    if (won.size() == group.size()) continue;  // "in 4 of 4" needs no list
    text += " (";
    for (std::size_t i = 0; i < won.size(); ++i) {
      text += (i ? "; " : "") + setting_only(*won[i]);
    }
    text += ")";
  }
  return text;
}

// The best retrying strategy of each scenario against pessimistic: geometric mean of
// the goodput ratio and the settings where the retrying side was ahead.
std::string optimism_versus_lock(const std::vector<Scenario>& group) {
  double log_sum = 0;
  int count = 0, ahead = 0;
  for (const Scenario& scenario : group) {
    const CellResult* lock = cell_for(scenario, Strategy::pessimistic);
    const CellResult* retry = best_retrying(scenario);
    if (lock == nullptr || retry == nullptr || lock->goodput <= 0 || retry->goodput <= 0) {
      continue;
    }
    log_sum += std::log(retry->goodput / lock->goodput);
    ++count;
    if (retry->goodput >= lock->goodput) ++ahead;
  }
  if (count == 0) return "";
  return times(std::exp(log_sum / count)) + " (ahead in " + std::to_string(ahead) + " of " +
         std::to_string(count) + ")";
}

}  // namespace

const char* const kPessimisticNote =
    "pessimistic is vkv_workload's lock-based baseline: a per-key write lock on a "
    "tbb::concurrent_hash_map held across the read-modify-write of a record updated in "
    "place (value, fresh version, revision), the window included, and reads under the "
    "read lock; it allocates nothing per write, so it does less work per write than "
    "vkv::Store";

std::string window_label(const workload::Window& window) {
  if (window.length.count() <= 0) return "no window";
  const double ns = static_cast<double>(window.length.count());
  const std::string length = ns >= 1e6   ? printf_string("%g ms", ns / 1e6)
                             : ns >= 1e3 ? printf_string("%g \u00b5s", ns / 1e3)
                                         : printf_string("%g ns", ns);
  return (window.kind == workload::WindowKind::busy ? "busy " : "blocking ") + length;
}

std::string read_share_label(double write_share) {
  // 1 - 0.01 is 0.99000000000000000888: round to the share as typed.
  return share(std::round((1.0 - write_share) * 1e4) / 1e4) + " reads";
}

std::string setting_only(const Scenario& scenario) {
  const auto comma = scenario.label.find(", ");
  return comma == std::string::npos ? scenario.label : scenario.label.substr(0, comma);
}

std::vector<std::vector<Scenario>> by_window(const std::vector<Scenario>& scenarios) {
  std::vector<std::vector<Scenario>> groups;
  for (const Scenario& scenario : scenarios) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const std::vector<Scenario>& group) {
      return group.front().window == scenario.window &&
             group.front().write_share == scenario.write_share;
    });
    if (it == groups.end()) {
      groups.push_back({scenario});
    } else {
      it->push_back(scenario);
    }
  }
  return groups;
}

std::vector<Scenario> scenarios_of(const std::vector<CellResult>& cells) {
  bool windows_vary = false, shares_vary = false;
  for (const CellResult& cell : cells) {
    if (cell.config.write_share != cells.front().config.write_share) shares_vary = true;
    if (!(workload::effective_window(cell.config) ==
          workload::effective_window(cells.front().config)) ||
        workload::effective_window(cell.config).length.count() > 0) {
      windows_vary = true;
    }
  }
  std::vector<Scenario> scenarios;
  std::map<std::tuple<int, std::size_t, int, double, double, int, long long>, std::size_t> index;
  for (const CellResult& cell : cells) {
    const auto& c = cell.config;
    const workload::Window window = workload::effective_window(c);
    const auto key = std::make_tuple(c.threads, c.keys, static_cast<int>(c.distribution),
                                     c.distribution == Distribution::zipf ? c.zipf_theta : 0.0,
                                     c.write_share, static_cast<int>(window.kind),
                                     static_cast<long long>(window.length.count()));
    auto [it, inserted] = index.emplace(key, scenarios.size());
    if (inserted) {
      std::string label = plural(static_cast<std::size_t>(c.threads), "thread", "threads") +
                          " \u00d7 " + plural(c.keys, "key", "keys");
      std::string group = window_label(window);
      if (shares_vary) group = read_share_label(c.write_share) + ", " + group;
      if (windows_vary || shares_vary) label += ", " + group;
      scenarios.push_back(Scenario{std::move(label), window, c.write_share, std::move(group), {}});
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

const CellResult* best_retrying(const Scenario& scenario) {
  const CellResult* best = nullptr;
  for (const CellResult* cell : scenario.cells) {
    if (cell->config.strategy == Strategy::pessimistic) continue;
    if (best == nullptr || cell->goodput > best->goodput) best = cell;
  }
  return best;
}

std::vector<GroupVersusLock> versus_lock(const std::vector<CellResult>& cells) {
  std::vector<GroupVersusLock> rows;
  const auto order = strategies_of(cells);
  for (const auto& group : by_window(scenarios_of(cells))) {
    GroupVersusLock row;
    row.group = group.front().group;
    row.write_share = group.front().write_share;
    row.window = group.front().window;
    row.winners = where_each_wins(group, order);
    double log_sum = 0, read_log_sum = 0;
    int read_count = 0;
    for (const Scenario& scenario : group) {
      const CellResult* lock = cell_for(scenario, Strategy::pessimistic);
      const CellResult* retry = best_retrying(scenario);
      if (lock == nullptr || retry == nullptr || lock->goodput <= 0 || retry->goodput <= 0) {
        continue;
      }
      const double ratio = retry->goodput / lock->goodput;
      row.low = row.settings == 0 ? ratio : std::min(row.low, ratio);
      row.high = std::max(row.high, ratio);
      log_sum += std::log(ratio);
      ++row.settings;
      if (ratio >= 1) ++row.ahead;
      if (retry->read_latency_p99_ns > 0 && lock->read_latency_p99_ns > 0) {
        read_log_sum += std::log(retry->read_latency_p99_ns / lock->read_latency_p99_ns);
        ++read_count;
      }
    }
    if (row.settings == 0) continue;
    row.mean = std::exp(log_sum / row.settings);
    if (read_count > 0) row.read_p99_ratio = std::exp(read_log_sum / read_count);
    rows.push_back(std::move(row));
  }
  return rows;
}

bool has_pessimistic(const std::vector<CellResult>& cells) {
  return std::any_of(cells.begin(), cells.end(), [](const CellResult& cell) {
    return cell.config.strategy == Strategy::pessimistic;
  });
}

std::string sweep_parameters(const std::vector<CellResult>& cells) {
  if (cells.empty()) return "no cells";
  const auto& c = cells.front().config;
  const bool shares_vary = std::any_of(cells.begin(), cells.end(), [&](const CellResult& cell) {
    return cell.config.write_share != c.write_share;
  });
  std::string text =
      std::to_string(c.duration.count()) + " ms per cell, " +
      (shares_vary ? std::string("read shares as labelled") : share(c.write_share) + " writes") +
      ", keys chosen ";
  text += c.distribution == Distribution::zipf
              ? "by Zipf (\u03b8 = " + printf_string("%.2f", c.zipf_theta) + ")"
              : "uniformly";
  text += ", seed " + std::to_string(c.seed);
  return text;
}

std::string finding(const std::vector<CellResult>& cells) {
  const auto scenarios = scenarios_of(cells);
  const auto order = strategies_of(cells);
  if (scenarios.empty()) return "Nothing was measured.";
  if (order.size() == 1) {
    return std::string(workload::strategy_name(order.front())) +
           " was the only strategy measured; no comparison to make.";
  }
  const std::string of_n =
      " of " + plural(scenarios.size(), "thread\u00d7key setting", "thread\u00d7key settings");
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

  const auto groups = by_window(scenarios);
  std::string text;
  // Where each strategy wins, per window: the trade-off the lab is about.
  if (groups.size() > 1 || groups.front().front().window.length.count() > 0) {
    const bool shares_vary =
        groups.front().front().group != window_label(groups.front().front().window);
    text = shares_vary ? "Best goodput by read share and window: " : "Best goodput by window: ";
    for (std::size_t g = 0; g < groups.size(); ++g) {
      text += (g ? "; " : "") + groups[g].front().group + ": " + where_each_wins(groups[g], order);
    }
    text += ". ";
    const bool lock_and_retry = has_pessimistic(cells) &&
                                std::any_of(order.begin(), order.end(),
                                            [](Strategy s) { return s != Strategy::pessimistic; });
    if (lock_and_retry) {
      std::string ratios;
      for (const auto& group : groups) {
        const std::string ratio = optimism_versus_lock(group);
        if (ratio.empty()) continue;
        ratios += (ratios.empty() ? "" : ", ") + group.front().group + " " + ratio;
      }
      if (!ratios.empty()) {
        text +=
            "The best retrying strategy's goodput over pessimistic's (geometric mean): " + ratios +
            ". ";
      }
    }
  }

  const auto [fastest, fastest_wins] = most_wins(scenarios, order, best_goodput);
  text += std::string(workload::strategy_name(fastest)) + " had the best goodput in " +
          std::to_string(fastest_wins) + of_n + versus_baseline(fastest, metric_goodput, "goodput");
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

}  // namespace vkv::lab
