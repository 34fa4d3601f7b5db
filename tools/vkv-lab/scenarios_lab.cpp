#include "scenarios_lab.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "chart.hpp"
#include "format.hpp"

namespace vkv::lab {
namespace {

using workload::HerdResult;
using workload::StallResult;
using workload::Strategy;

std::string name_of(Strategy strategy) { return std::string(workload::strategy_name(strategy)); }

// A table row's first cell: the strategy's colour swatch and name; the next cell opens.
std::string strategy_cells(Strategy strategy) {
  return "<tr><td class=\"l\"><span class=\"swatch\" style=\"background:" + color_of(strategy) +
         "\"></span>" + name_of(strategy) + "</td><td>";
}

// "12.3 us" or "4.05 ms".
std::string millis(double ns) {
  return ns < 1e6 ? printf_string("%.1f us", ns / 1e3) : printf_string("%.2f ms", ns / 1e6);
}

std::vector<std::uint64_t> ops_per_bucket(const StallResult& r) {
  std::vector<std::uint64_t> ops(r.reads_per_bucket.size());
  for (std::size_t i = 0; i < ops.size(); ++i)
    ops[i] = r.reads_per_bucket[i] + r.writes_per_bucket[i];
  return ops;
}

// Eight levels of a block character; a blank for nothing at all.
std::string sparkline(const std::vector<std::uint64_t>& values, std::uint64_t top) {
  static const char* const kLevels[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                        "\u2585", "\u2586", "\u2587", "\u2588"};
  std::string line;
  for (std::uint64_t v : values) {
    if (v == 0 || top == 0) {
      line += ' ';
      continue;
    }
    const auto level =
        std::min<std::size_t>(7, static_cast<std::size_t>(std::ceil(8.0 * static_cast<double>(v) /
                                                                    static_cast<double>(top))) -
                                     1);
    line += kLevels[level];
  }
  return line;
}

const StallResult* find_stall(const std::vector<StallResult>& results, bool pessimistic) {
  const StallResult* best = nullptr;
  for (const StallResult& r : results) {
    if ((r.config.strategy == Strategy::pessimistic) != pessimistic) continue;
    if (best == nullptr || r.reads_during_stall > best->reads_during_stall) best = &r;
  }
  return best;
}

// One line of a text table, formatted by snprintf (at most 255 characters).
template <class... Args>
std::string table_line(const char* format, Args... args) {
  char text[256];
  std::snprintf(text, sizeof text, format, args...);
  return text;
}

// The fields every scenario's JSON object starts with: its strategy and thread count.
template <class Config>
void json_head(std::ostream& out, const Config& c) {
  out << "{\"strategy\": \"" << name_of(c.strategy) << "\", \"threads\": " << c.threads;
}

// A JSON array with one object per result, `object` writing each from its opening
// brace; indented as the report's other arrays.
template <class Result, class Object>
std::string json_array(const std::vector<Result>& results, Object object) {
  std::ostringstream out;
  out << '[';
  bool first = true;
  for (const Result& r : results) {
    out << (first ? "\n" : ",\n") << "    ";
    object(out, r);
    first = false;
  }
  out << (results.empty() ? "]" : "\n  ]");
  return out.str();
}

}  // namespace

std::string stall_table(const std::vector<StallResult>& results) {
  std::ostringstream out;
  out << table_line("  %-20s %12s %12s %10s %10s %10s %10s %9s\n", "strategy", "reads/stall",
                    "writes/stall", "read p99", "read max", "write p99", "write max", "attempts");
  for (const StallResult& r : results) {
    out << table_line(
        "  %-20s %12llu %12llu %10s %10s %10s %10s %9d\n", name_of(r.config.strategy).c_str(),
        static_cast<unsigned long long>(r.reads_during_stall),
        static_cast<unsigned long long>(r.writes_during_stall), millis(r.read_p99_ns).c_str(),
        millis(r.read_max_ns).c_str(), millis(r.write_p99_ns).c_str(),
        millis(r.write_max_ns).c_str(), r.stalled_writer_attempts);
  }
  if (results.empty()) return out.str();
  const auto& c = results.front().config;
  std::uint64_t top = 0;
  for (const StallResult& r : results) {
    for (std::uint64_t v : ops_per_bucket(r)) top = std::max(top, v);
  }
  out << "\n  Operations completed per " << c.bucket.count() / 1000
      << " ms (same scale; ^ marks the stall):\n";
  for (const StallResult& r : results) {
    out << table_line("  %-20s |", name_of(r.config.strategy).c_str())
        << sparkline(ops_per_bucket(r), top) << "|\n";
  }
  const StallResult& first = results.front();
  std::string marks(first.reads_per_bucket.size(), ' ');
  const double bucket_ms = static_cast<double>(c.bucket.count()) / 1000;
  for (std::size_t i = 0; i < marks.size(); ++i) {
    const double from = static_cast<double>(i) * bucket_ms, to = from + bucket_ms;
    if (to > first.stall_began_ms && from < first.stall_ended_ms) marks[i] = '^';
  }
  out << table_line("  %-20s  ", "") << marks << "\n  (" << c.threads
      << " threads beside the stalled writer, " << plural(c.keys, "key", "keys") << ", "
      << share(1 - c.write_share) << " reads; the writer stalls " << c.stall.count()
      << " ms inside its read-modify-write of key 0 at " << c.stall_at.count()
      << " ms; every operation timed; attempts: the stalled writer's)\n";
  return out.str();
}

std::string stall_finding(const std::vector<StallResult>& results) {
  const StallResult* lock = find_stall(results, true);
  const StallResult* vkv = find_stall(results, false);
  if (lock == nullptr || vkv == nullptr) return "";
  const double stall_ms = vkv->config.stall.count();
  std::string text =
      printf_string("During the %.0f ms stall, the other threads completed ", stall_ms) +
      std::to_string(vkv->reads_during_stall) + " reads under " + name_of(vkv->config.strategy) +
      " against " + std::to_string(lock->reads_during_stall) + " under the lock (";
  text += lock->reads_during_stall == 0 ? "the lock's readers all waited"
                                        : times(static_cast<double>(vkv->reads_during_stall) /
                                                static_cast<double>(lock->reads_during_stall));
  text += "); slowest read " + millis(vkv->read_max_ns) + " against " + millis(lock->read_max_ns) +
          ", read p99 " + millis(vkv->read_p99_ns) + " against " + millis(lock->read_p99_ns) +
          ". The stalled writer took " + std::to_string(vkv->stalled_writer_attempts) +
          (vkv->stalled_writer_attempts == 1 ? " attempt" : " attempts") +
          " under vkv: a writer that stalls loses its compare-and-swap and retries, nobody waits "
          "for it.";
  return text;
}

std::string stall_html(const std::vector<StallResult>& results, const std::string& finding) {
  std::ostringstream out;
  if (results.empty()) return "";
  const auto& c = results.front().config;
  out << "<p>One writer stalls " << c.stall.count()
      << " ms inside its read-modify-write of key 0 (a page fault, a GC pause, a descheduled "
         "thread: a sleep while it holds what it holds) while "
      << c.threads << " threads read and write " << plural(c.keys, "key", "keys") << " ("
      << share(1 - c.write_share)
      << " reads). Under the lock it holds key 0's write lock; under vkv it sits between its "
         "read and its compare-and-swap.</p>\n";
  if (!finding.empty()) {
    out << "<div class=\"finding\"><strong>Finding:</strong> " << html_escape(finding)
        << "</div>\n";
  }
  // Operations per bucket over time, one line per strategy.
  constexpr double kWidth = 1040, kHeight = 320, kLeft = 84, kRight = 16, kTop = 40, kBottom = 44;
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  double top = 1;
  for (const StallResult& r : results) {
    for (std::uint64_t v : ops_per_bucket(r)) top = std::max(top, static_cast<double>(v));
  }
  const double total_ms = static_cast<double>(c.duration.count());
  const double bucket_ms = static_cast<double>(c.bucket.count()) / 1000;
  auto x_of = [&](double ms) { return kLeft + plot_w * ms / total_ms; };
  auto y_of = [&](double v) { return kTop + plot_h * (1 - v / top); };
  const StallResult& first = results.front();
  out << "<svg viewBox=\"0 0 " << kWidth << ' ' << kHeight
      << "\" role=\"img\" aria-label=\"operations over time\">\n"
      << "<rect x=\"" << x_of(first.stall_began_ms) << "\" y=\"" << kTop << "\" width=\""
      << x_of(first.stall_ended_ms) - x_of(first.stall_began_ms) << "\" height=\"" << plot_h
      << "\" fill=\"#f6dcdc\"/>\n<text x=\"" << x_of(first.stall_began_ms) + 4 << "\" y=\""
      << kTop + 14 << "\" font-size=\"12\" fill=\"#a33\">stall</text>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = top * i / 4;
    out << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + plot_w << "\" y1=\"" << y_of(v)
        << "\" y2=\"" << y_of(v) << "\" stroke=\"#eee\"/><text x=\"" << kLeft - 6 << "\" y=\""
        << y_of(v) + 4 << "\" font-size=\"11\" text-anchor=\"end\">" << si(v) << "</text>\n";
  }
  for (int ms = 0; ms <= c.duration.count(); ms += 20) {
    out << "<text x=\"" << x_of(ms) << "\" y=\"" << kTop + plot_h + 16
        << "\" font-size=\"11\" text-anchor=\"middle\">" << ms << " ms</text>\n";
  }
  out << "<text x=\"" << kLeft << "\" y=\"" << kTop - 10
      << "\" font-size=\"12\">operations completed per " << printf_string("%g", bucket_ms)
      << " ms</text>\n";
  double legend_x = kLeft + 260;
  for (const StallResult& r : results) {
    const std::vector<std::uint64_t> ops = ops_per_bucket(r);
    out << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << color_of(r.config.strategy)
        << "\" points=\"";
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const double mid = std::min(total_ms, (static_cast<double>(i) + 0.5) * bucket_ms);
      out << x_of(mid) << ',' << y_of(static_cast<double>(ops[i])) << ' ';
    }
    out << "\"/>\n<rect x=\"" << legend_x << "\" y=\"" << kTop - 20
        << "\" width=\"10\" height=\"10\" fill=\"" << color_of(r.config.strategy)
        << "\"/><text x=\"" << legend_x + 14 << "\" y=\"" << kTop - 11 << "\" font-size=\"12\">"
        << name_of(r.config.strategy) << "</text>\n";
    legend_x += 150;
  }
  out << "</svg>\n<div class=\"scroll\"><table>\n<tr><th class=\"l\">strategy</th><th>reads during "
         "stall</th><th>writes during stall</th><th>read p99</th><th>read max</th><th>write "
         "p99</th><th>write max</th><th>reads</th><th>writes</th><th>stalled writer's "
         "attempts</th></tr>\n";
  for (const StallResult& r : results) {
    out << strategy_cells(r.config.strategy) << r.reads_during_stall << "</td><td>"
        << r.writes_during_stall << "</td><td>" << millis(r.read_p99_ns) << "</td><td>"
        << millis(r.read_max_ns) << "</td><td>" << millis(r.write_p99_ns) << "</td><td>"
        << millis(r.write_max_ns) << "</td><td>" << r.reads << "</td><td>" << r.writes
        << "</td><td>" << r.stalled_writer_attempts << "</td></tr>\n";
  }
  out << "</table></div>\n";
  return out.str();
}

std::string stall_json(const std::vector<StallResult>& results) {
  return json_array(results, [](std::ostream& out, const StallResult& r) {
    const auto& c = r.config;
    json_head(out, c);
    out << ", \"keys\": " << c.keys << ", \"write_share\": " << json_number(c.write_share)
        << ", \"duration_ms\": " << c.duration.count() << ", \"stall_ms\": " << c.stall.count()
        << ", \"stall_began_ms\": " << json_number(r.stall_began_ms)
        << ", \"stall_ended_ms\": " << json_number(r.stall_ended_ms) << ", \"reads\": " << r.reads
        << ", \"writes\": " << r.writes << ", \"reads_during_stall\": " << r.reads_during_stall
        << ", \"writes_during_stall\": " << r.writes_during_stall
        << ", \"read_p99_ns\": " << json_number(r.read_p99_ns)
        << ", \"read_max_ns\": " << json_number(r.read_max_ns)
        << ", \"write_p99_ns\": " << json_number(r.write_p99_ns)
        << ", \"write_max_ns\": " << json_number(r.write_max_ns)
        << ", \"stalled_writer_attempts\": " << r.stalled_writer_attempts
        << ", \"bucket_us\": " << c.bucket.count() << ", \"ops_per_bucket\": [";
    const auto ops = ops_per_bucket(r);
    for (std::size_t i = 0; i < ops.size(); ++i) out << (i ? ", " : "") << ops[i];
    out << "]}";
  });
}

std::string herd_table(const std::vector<HerdResult>& results) {
  std::ostringstream out;
  out << table_line("  %-20s %14s %14s %16s %16s %14s\n", "strategy", "attempts/round",
                    "worst round", "last commit (us)", "worst round (us)", "most for one");
  for (const HerdResult& r : results) {
    out << table_line("  %-20s %14.1f %14.0f %16.0f %16.0f %14d\n",
                      name_of(r.config.strategy).c_str(), r.attempts_mean, r.attempts_max,
                      r.last_commit_mean_us, r.last_commit_max_us, r.most_attempts_one_write);
  }
  if (!results.empty()) {
    const auto& c = results.front().config;
    out << "  (" << c.threads
        << " threads released together, each commits one write to the same record; window "
        << workload::window_name(c.window) << "; mean over " << c.rounds << " rounds)\n";
  }
  return out.str();
}

std::string herd_finding(const std::vector<HerdResult>& results) {
  const HerdResult* plain = nullptr;
  const HerdResult* best_attempts = nullptr;
  const HerdResult* best_time = nullptr;
  for (const HerdResult& r : results) {
    const Strategy s = r.config.strategy;
    if (s == Strategy::exponential) plain = &r;
    if (s != Strategy::full_jitter && s != Strategy::equal_jitter &&
        s != Strategy::decorrelated_jitter) {
      continue;
    }
    if (best_attempts == nullptr || r.attempts_mean < best_attempts->attempts_mean)
      best_attempts = &r;
    if (best_time == nullptr || r.last_commit_mean_us < best_time->last_commit_mean_us)
      best_time = &r;
  }
  if (plain == nullptr || best_attempts == nullptr) return "";
  const bool fewer = best_attempts->attempts_mean < plain->attempts_mean;
  const bool sooner = best_time->last_commit_mean_us < plain->last_commit_mean_us;
  std::string text =
      "AWS's result (jitter cuts both the calls and the time to finish, against "
      "exponential backoff without jitter) ";
  text += fewer && sooner   ? "holds here"
          : fewer || sooner ? "holds in part here"
                            : "does not hold here";
  text += ": the best jittered strategy took " +
          printf_string("%.0f", best_attempts->attempts_mean) + " attempts per round (" +
          name_of(best_attempts->config.strategy) + ") against " +
          printf_string("%.0f", plain->attempts_mean) +
          " for exponential, and its last write committed after " +
          printf_string("%.0f", best_time->last_commit_mean_us) + " \u00b5s (" +
          name_of(best_time->config.strategy) + ") against " +
          printf_string("%.0f", plain->last_commit_mean_us) + " \u00b5s";
  for (const HerdResult& r : results) {
    if (r.config.strategy == Strategy::pessimistic) {
      text += "; the lock took " + printf_string("%.0f", r.attempts_mean) + " (one each) in " +
              printf_string("%.0f", r.last_commit_mean_us) + " \u00b5s";
    }
  }
  return text + ".";
}

std::string herd_html(const std::vector<HerdResult>& results, const std::string& finding) {
  std::ostringstream out;
  if (results.empty()) return "";
  const auto& c = results.front().config;
  out << "<p>The AWS <em>Exponential Backoff And Jitter</em> experiment with real threads: "
      << c.threads << " threads released together each commit one write to the same record (window "
      << html_escape(workload::window_name(c.window)) << "), " << c.rounds << " rounds.</p>\n";
  if (!finding.empty()) {
    out << "<div class=\"finding\"><strong>Finding:</strong> " << html_escape(finding)
        << "</div>\n";
  }
  out << "<div class=\"scroll\"><table>\n<tr><th class=\"l\">strategy</th><th>attempts per "
         "round</th><th>worst round</th><th>last commit \u00b5s</th><th>worst round "
         "\u00b5s</th><th>most "
         "attempts, one write</th></tr>\n";
  for (const HerdResult& r : results) {
    out << strategy_cells(r.config.strategy) << printf_string("%.1f", r.attempts_mean)
        << "</td><td>" << printf_string("%.0f", r.attempts_max) << "</td><td>"
        << printf_string("%.0f", r.last_commit_mean_us) << "</td><td>"
        << printf_string("%.0f", r.last_commit_max_us) << "</td><td>" << r.most_attempts_one_write
        << "</td></tr>\n";
  }
  out << "</table></div>\n";
  return out.str();
}

std::string herd_json(const std::vector<HerdResult>& results) {
  return json_array(results, [](std::ostream& out, const HerdResult& r) {
    json_head(out, r.config);
    out << ", \"window\": \"" << workload::window_name(r.config.window)
        << "\", \"rounds\": " << r.config.rounds
        << ", \"attempts_mean\": " << json_number(r.attempts_mean)
        << ", \"attempts_max\": " << json_number(r.attempts_max)
        << ", \"last_commit_mean_us\": " << json_number(r.last_commit_mean_us)
        << ", \"last_commit_max_us\": " << json_number(r.last_commit_max_us)
        << ", \"most_attempts_one_write\": " << r.most_attempts_one_write << "}";
  });
}

}  // namespace vkv::lab
