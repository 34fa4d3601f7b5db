// vkv-lab's text outputs and raw report files: the sweep table, the race story, JSON
// and CSV. The HTML report is in html.cpp, the settings and the finding in
// analysis.cpp, the charts in chart.cpp.
#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include "analysis.hpp"
#include "format.hpp"
#include "scenarios_lab.hpp"

namespace vkv::lab {
namespace {

using workload::CellResult;
using workload::Distribution;

// θ only means something for Zipf; uniform cells say null rather than a stale default.
std::string zipf_theta(const workload::CellConfig& config) {
  return config.distribution == Distribution::zipf ? json_number(config.zipf_theta) : "null";
}

std::string customer_text(const Customer& customer) {
  return "{name=\"" + customer.name +
         "\", balance=" + printf_string("%.2f", static_cast<double>(customer.balance_cents) / 100) +
         "}";
}

std::string window_kind(const workload::Window& window) {
  if (window.length.count() <= 0) return "none";
  return window.kind == workload::WindowKind::busy ? "busy" : "blocking";
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

std::string text_table(const std::vector<CellResult>& cells) {
  const auto scenarios = scenarios_of(cells);
  std::size_t width = 7;  // "setting"
  for (const Scenario& scenario : scenarios) width = std::max(width, display_width(scenario.label));
  const bool lock = has_pessimistic(cells);
  // The label holds multi-byte signs (U+00D7, U+00B5): pad by display width.
  auto padded = [width](const std::string& text) {
    return text + std::string(width - std::min(width, display_width(text)), ' ');
  };
  std::ostringstream out;
  char line[360];
  std::snprintf(line, sizeof line, "  %s %-20s %11s %8s %10s %11s %12s %12s %12s\n",
                padded("setting").c_str(), "strategy", "goodput/s", lock ? "vs lock" : "",
                "conflicts", "retries/op", "p99", "read p99", "write p99");
  out << line;
  for (const Scenario& scenario : scenarios) {
    const CellResult* fastest = best_goodput(scenario);
    const CellResult* steadiest = lowest_p99(scenario);
    const CellResult* locked = cell_for(scenario, workload::Strategy::pessimistic);
    bool first = true;
    for (const CellResult* cell : scenario.cells) {
      const std::string goodput = si(cell->goodput) + (cell == fastest ? "*" : " ");
      const std::string versus = locked != nullptr && locked->goodput > 0
                                     ? printf_string("%.2fx", cell->goodput / locked->goodput)
                                     : std::string();
      const std::string p99 =
          micros(cell->latency_p99_ns) + " us" + (cell == steadiest ? "*" : " ");
      const std::string read_p99 =
          cell->reads == 0 ? std::string("-  ") : micros(cell->read_latency_p99_ns) + " us ";
      const std::string write_p99 =
          cell->writes == 0 ? std::string("-  ") : micros(cell->write_latency_p99_ns) + " us ";
      std::snprintf(line, sizeof line, "  %s %-20s %11s %8s %10s %11.2f %12s %12s %12s\n",
                    padded(first ? scenario.label : "").c_str(),
                    std::string(workload::strategy_name(cell->config.strategy)).c_str(),
                    goodput.c_str(), versus.c_str(), percent(cell->conflict_rate).c_str(),
                    cell->retries_mean, p99.c_str(), read_p99.c_str(), write_p99.c_str());
      out << line;
      first = false;
    }
  }
  out << "  (* best goodput / lowest p99 in its setting; vs lock: goodput over pessimistic's in "
         "the same setting; latencies sampled one operation in "
      << (cells.empty() ? 8 : cells.front().config.latency_sample_every) << "; "
      << sweep_parameters(cells) << ")\n";
  if (lock) out << "  (" << kPessimisticNote << ")\n";
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
    const workload::Window window = workload::effective_window(c);
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
        << ", \"latency_p999_ns\": " << json_number(cell.latency_p999_ns) << ", \"window\": \""
        << workload::window_name(window) << "\", \"window_kind\": \"" << window_kind(window)
        << "\", \"window_ns\": " << window.length.count()
        << ", \"write_latency_p50_ns\": " << json_number(cell.write_latency_p50_ns)
        << ", \"write_latency_p99_ns\": " << json_number(cell.write_latency_p99_ns)
        << ", \"write_latency_p999_ns\": " << json_number(cell.write_latency_p999_ns)
        << ", \"latency_samples\": " << cell.latency_samples
        << ", \"read_latency_p50_ns\": " << json_number(cell.read_latency_p50_ns)
        << ", \"read_latency_p99_ns\": " << json_number(cell.read_latency_p99_ns)
        << ", \"read_latency_p999_ns\": " << json_number(cell.read_latency_p999_ns)
        << ", \"read_latency_max_ns\": " << json_number(cell.read_latency_max_ns)
        << ", \"write_latency_max_ns\": " << json_number(cell.write_latency_max_ns) << "}";
    first = false;
  }
  out << (report.cells.empty() ? "]\n}\n" : "\n  ]\n}\n");
  return out.str();
}

std::string to_csv(const Report& report) {
  std::ostringstream out;
  out << "threads,keys,distribution,zipf_theta,write_share,strategy,duration_ms,seed,seconds,"
         "committed,writes,reads,attempts,conflicts,gave_up,goodput,conflict_rate,retries_mean,"
         "retries_p99,latency_p50_ns,latency_p99_ns,latency_p999_ns,window,window_kind,window_ns,"
         "write_latency_p50_ns,write_latency_p99_ns,write_latency_p999_ns,latency_samples,"
         "read_latency_p50_ns,read_latency_p99_ns,read_latency_p999_ns,read_latency_max_ns,"
         "write_latency_max_ns\n";
  for (const CellResult& cell : report.cells) {
    const auto& c = cell.config;
    const workload::Window window = workload::effective_window(c);
    out << c.threads << ',' << c.keys << ','
        << (c.distribution == Distribution::zipf ? "zipf" : "uniform") << ','
        << (c.distribution == Distribution::zipf ? json_number(c.zipf_theta) : "") << ','
        << json_number(c.write_share) << ',' << workload::strategy_name(c.strategy) << ','
        << c.duration.count() << ',' << c.seed << ',' << json_number(cell.seconds) << ','
        << cell.committed << ',' << cell.writes << ',' << cell.reads << ',' << cell.attempts << ','
        << cell.conflicts << ',' << cell.gave_up << ',' << json_number(cell.goodput) << ','
        << json_number(cell.conflict_rate) << ',' << json_number(cell.retries_mean) << ','
        << json_number(cell.retries_p99) << ',' << json_number(cell.latency_p50_ns) << ','
        << json_number(cell.latency_p99_ns) << ',' << json_number(cell.latency_p999_ns) << ','
        << workload::window_name(window) << ',' << window_kind(window) << ','
        << window.length.count() << ',' << json_number(cell.write_latency_p50_ns) << ','
        << json_number(cell.write_latency_p99_ns) << ',' << json_number(cell.write_latency_p999_ns)
        << ',' << cell.latency_samples << ',' << json_number(cell.read_latency_p50_ns) << ','
        << json_number(cell.read_latency_p99_ns) << ',' << json_number(cell.read_latency_p999_ns)
        << ',' << json_number(cell.read_latency_max_ns) << ','
        << json_number(cell.write_latency_max_ns) << '\n';
  }
  return out.str();
}

}  // namespace vkv::lab
