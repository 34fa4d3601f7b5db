// vkv-lab: the contention and retry-strategy lab.
//
//   vkv-lab                 the guided demo: the race, the strategies, a report
//   vkv-lab race            the race only
//   vkv-lab sweep [...]     a contention sweep of your choosing
//   vkv-lab stall [...]     a writer stalls holding a key: the lock against vkv
//   vkv-lab herd [...]      N threads commit one write each to one record
//   vkv-lab cache [...]     a cache under a Zipfian load (cache_lab.hpp)
//   vkv-lab race|sweep --redis URI   the same against a Redis server (redis_lab.hpp)
//
// Exit status: 0 on success; 1 if vkv lost an update in the race or a report file
// could not be written; 2 for bad arguments or an unwritable output path (one line on
// stderr, nothing run, nothing written).

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cache_lab.hpp"
#include "cli.hpp"
#include "output.hpp"
#include "race.hpp"
#include "report.hpp"
#include "scenario_commands.hpp"
#include "scenarios_lab.hpp"
#include "sweep.hpp"
#include "targets.hpp"
#ifdef VKV_LAB_REDIS
#include <vkv/redis/detail/keys.hpp>

#include "redis_lab.hpp"
#endif

namespace {

namespace lab = vkv::lab;
namespace workload = vkv::workload;

constexpr int kUsageError = 2;

// Bad input: reported as one line and exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string command_line(int argc, char** argv) {
  std::string text = "vkv-lab";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    const bool quote = arg.empty() || arg.find_first_of(" \t'\"$\\") != std::string_view::npos;
    text += ' ';
    text += quote ? "'" + std::string(arg) + "'" : std::string(arg);
  }
  return text;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma - start);
    const auto first = item.find_first_not_of(' ');
    const auto last = item.find_last_not_of(' ');
    items.push_back(first == std::string::npos ? "" : item.substr(first, last - first + 1));
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

long long parse_integer(const std::string& flag, const std::string& text, long long low,
                        long long high, const char* what) {
  try {
    return lab::whole_in(flag, text, low, high, what);
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
}

double parse_real(const std::string& flag, const std::string& text) {
  const auto value = lab::real_number(text);
  if (!value) throw UsageError(flag + ": '" + text + "' is not a number");
  return *value;
}

std::vector<workload::Strategy> parse_strategies(const std::string& text) {
  std::vector<workload::Strategy> strategies;
  for (const std::string& name : split_list(text)) {
    if (name == "all") {
      for (auto strategy : workload::all_strategies()) strategies.push_back(strategy);
      continue;
    }
    const auto strategy = workload::parse_strategy(name);
    if (!strategy) {
      std::string known;
      for (auto s : workload::all_strategies()) {
        known += (known.empty() ? "" : ", ") + std::string(workload::strategy_name(s));
      }
      throw UsageError("--strategies: unknown strategy '" + name + "' (known: " + known + ")");
    }
    strategies.push_back(*strategy);
  }
  // Keep the first mention of each.
  std::vector<workload::Strategy> unique;
  for (auto strategy : strategies) {
    if (std::find(unique.begin(), unique.end(), strategy) == unique.end()) {
      unique.push_back(strategy);
    }
  }
  return unique;
}

std::vector<workload::Window> parse_windows(const std::string& text) {
  std::vector<workload::Window> windows;
  for (const std::string& name : split_list(text)) {
    if (name == "standard") {
      for (const auto& window : workload::standard_windows()) windows.push_back(window);
      continue;
    }
    const auto window = workload::parse_window(name);
    if (!window) {
      throw UsageError("--windows: '" + name +
                       "' is not a window (0, busy-10us, blocking-100us, or standard)");
    }
    windows.push_back(*window);
  }
  std::vector<workload::Window> unique;  // keep the first mention of each
  for (const auto& window : windows) {
    if (std::find(unique.begin(), unique.end(), window) == unique.end()) unique.push_back(window);
  }
  return unique;
}

void require_writable_file(const std::string& flag, const std::string& path) {
  if (auto why = lab::check_writable_file(path)) {
    throw UsageError(flag + ": cannot write '" + path + "': " + *why);
  }
}

std::string in_directory(const std::string& directory, const std::string& name) {
  if (directory.empty() || directory == ".") return name;
  return directory.back() == '/' ? directory + name : directory + "/" + name;
}

struct Outputs {
  std::string json, csv, html;
};

// Writes the report files that were asked for; false (after saying why) if one failed.
bool write_reports(const lab::Report& report, const Outputs& outputs) {
  bool ok = true;
  auto write = [&](const std::string& path, const std::string& contents, const char* what) {
    if (path.empty()) return;
    if (auto why = lab::write_file_atomically(path, contents)) {
      std::cerr << "vkv-lab: error: writing " << path << ": " << *why << '\n';
      ok = false;
    } else {
      std::cout << "  " << what << ' ' << path << '\n';
    }
  };
  write(outputs.html, lab::to_html(report), "report:   ");
  write(outputs.json, lab::to_json(report), "raw JSON: ");
  write(outputs.csv, lab::to_csv(report), "raw CSV:  ");
  return ok;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run_race_command(int rounds) {
  const lab::RaceSummary race = lab::run_race(rounds);
  std::cout << "The race (seed guide, \"Race Condition Scenario\"): two threads read the same "
               "customer, meet at a barrier, then both write.\n\n"
            << lab::race_story(race);
  return race.vkv_lost_updates == 0 ? 0 : 1;
}

// --redis: the race between two processes, or the sweep, against a Redis server. The
// sweep prints the in-process sweep's table and writes the same report files.
int run_redis_command(const std::string& uri, int rounds, const lab::SweepPlan* plan,
                      const Outputs* outputs = nullptr, const std::string& command = {}) {
#ifdef VKV_LAB_REDIS
  try {
    (void)vkv::redis::detail::parse_uri(uri);  // a malformed URI is bad input
    if (plan == nullptr) {
      std::cout << "The race over Redis (" << uri << "): two processes read the same customer, "
                << "meet, then both write; " << rounds << " rounds.\n\n";
      const lab::RedisRaceSummary race = lab::run_redis_race(uri, rounds);
      std::cout << lab::redis_race_story(race);
      return race.vkv_lost_updates == 0 ? 0 : 1;
    }
    lab::check_redis_strategies(plan->strategies);  // bad input: one line, nothing run
    const auto start = std::chrono::steady_clock::now();
    lab::Report report;
    report.command = command;
    report.date = lab::utc_timestamp();
    report.machine = lab::describe_machine();
    report.backend = uri;
    report.pessimistic_note = lab::kRedisPessimisticNote;
    const lab::RedisSweepPlan redis_plan{plan->threads, plan->keys, plan->strategies,
                                         plan->duration, plan->seed};
    std::cout << "Sweep over Redis (" << uri << "): " << plan->cell_count() << " cells of "
              << plan->duration.count() << " ms, increments of a counter record\n";
    const auto cells = lab::run_redis_sweep(uri, redis_plan);
    bool add_up = true;
    for (const auto& c : cells) {
      report.cells.push_back(c.result);
      add_up = add_up && c.counters_add_up;
    }
    report.finding = lab::finding(report.cells);
    report.wall_seconds = seconds_since(start);
    std::cout << lab::text_table(report.cells, lab::kRedisPessimisticNote)
              << "\nFinding: " << report.finding << "\n\nCounters read back from the server:\n"
              << lab::redis_counters_table(cells);
    if (!add_up) std::cerr << "vkv-lab: error: counters on the server do not add up\n";
    if (outputs != nullptr &&
        (!outputs->json.empty() || !outputs->csv.empty() || !outputs->html.empty())) {
      std::cout << '\n';
      if (!write_reports(report, *outputs)) return 1;
    }
    return add_up ? 0 : 1;
  } catch (const std::invalid_argument& e) {  // a malformed URI, a strategy Redis cannot run
    throw UsageError(e.what());
  }
#else
  (void)uri, (void)rounds, (void)plan, (void)outputs, (void)command;
  throw UsageError("--redis: this vkv-lab was built without vkv::redis (libhiredis-dev)");
#endif
}

int run_sweep_command(const lab::SweepPlan& plan, const Outputs& outputs,
                      const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  lab::Report report;
  report.command = command;
  report.date = lab::utc_timestamp();
  report.machine = lab::describe_machine();
  std::cout << "Sweep: " << plan.cell_count() << " cells of " << plan.duration.count()
            << " ms (about " << (plan.cell_count() * plan.duration.count() + 999) / 1000 << " s)\n";
  report.cells = lab::run_sweep(plan);
  report.finding = lab::finding(report.cells);
  report.wall_seconds = seconds_since(start);
  std::cout << lab::text_table(report.cells) << "\nFinding: " << report.finding << '\n';
  if (!outputs.json.empty() || !outputs.csv.empty() || !outputs.html.empty()) std::cout << '\n';
  return write_reports(report, outputs) ? 0 : 1;
}

int run_demo(const std::string& out_dir, const std::string& command) {
  if (auto why = lab::check_writable_directory(out_dir)) {
    throw UsageError("--out: cannot write report files into '" + out_dir + "': " + *why);
  }
  const auto start = std::chrono::steady_clock::now();
  lab::Report report;
  report.command = command;
  report.date = lab::utc_timestamp();
  report.machine = lab::describe_machine();

  std::cout << "vkv-lab: optimistic concurrency, live, on " << report.machine.cpus << " CPUs ("
            << report.machine.cpu_model;
  if (report.machine.load_average >= 0) {
    char load[32];
    std::snprintf(load, sizeof load, ", load average %.1f", report.machine.load_average);
    std::cout << load;
  }
  std::cout << ")\n\n";

  constexpr int kRounds = 1000;
  std::cout << "1. The race (seed guide, \"Race Condition Scenario\"), " << kRounds
            << " rounds with two real threads.\n"
               "   Both workers read the customer, meet at a barrier, then write: A renames "
               "it, B deposits.\n\n";
  report.race = lab::run_race(kRounds);
  std::cout << lab::race_story(*report.race) << '\n';

  lab::SweepPlan plan;
  // The window decides the trade-off: with none, a lock is cheap to hold; with work or
  // I/O between read and write, holding it serialises everyone behind the slowest.
  plan.windows = {workload::Window{},
                  workload::Window{workload::WindowKind::busy, std::chrono::microseconds(10)},
                  workload::Window{workload::WindowKind::blocking, std::chrono::microseconds(100)}};
  // Optimism exists for readers that never wait behind a writer: all writes, then 90%
  // and 99% reads. 8 threads on a machine of fewer cores is the oversubscribed case,
  // where a lock holder descheduled inside its window stalls every reader of its key.
  plan.write_shares = {1.0, 0.1, 0.01};
  plan.threads = {2, 8};
  plan.keys = {1};  // one hot key: every reader meets every writer
  plan.strategies = workload::all_strategies();
  plan.duration = std::chrono::milliseconds(150);
  std::cout << "2. The strategies: 3 read shares (0%, 90%, 99% reads) x " << plan.windows.size()
            << " read-modify-write windows (none, 10 us of work, 100 us of I/O) x "
            << plan.threads.size() << " thread counts (2, 8) on one hot key x "
            << plan.strategies.size() << " strategies, " << plan.duration.count()
            << " ms each (about " << (plan.cell_count() * plan.duration.count() + 999) / 1000
            << " s).\n\n";
  report.cells = lab::run_sweep(plan);
  report.finding = lab::finding(report.cells);
  std::cout << lab::text_table(report.cells) << "\n   Per read share and window:\n"
            << lab::versus_lock_text(report) << "\n   Finding: " << report.finding << "\n\n";

  workload::StallConfig stall;
  stall.threads = 4;
  stall.keys = 1;
  stall.write_share = 0.1;
  std::cout << "3. A stalled holder: one writer stalls " << stall.stall.count()
            << " ms inside its read-modify-write of a key while " << stall.threads
            << " threads read (90%) and write (10%) it.\n\n";
  report.stalls =
      lab::run_per_strategy(stall,
                            {workload::Strategy::pessimistic, workload::Strategy::full_jitter,
                             workload::Strategy::adaptive},
                            workload::run_stall);
  report.stall_finding = lab::stall_finding(report.stalls);
  std::cout << lab::stall_table(report.stalls) << "\n   Finding: " << report.stall_finding
            << "\n\n";

  workload::HerdConfig herd;
  herd.threads = 64;
  herd.rounds = 10;
  herd.window = workload::Window{workload::WindowKind::busy, std::chrono::microseconds(10)};
  std::cout << "4. The thundering herd: " << herd.threads
            << " threads released together each commit one write (10 us of work) to the same "
               "record; "
            << herd.rounds << " rounds per strategy.\n\n";
  report.herds = lab::run_per_strategy(herd, workload::all_strategies(), workload::run_herd);
  report.herd_finding = lab::herd_finding(report.herds);
  std::cout << lab::herd_table(report.herds) << "\n   Finding: " << report.herd_finding << "\n\n";

  report.wall_seconds = seconds_since(start);
  std::cout << "5. The report\n";
  const Outputs outputs{in_directory(out_dir, "vkv-lab-report.json"),
                        in_directory(out_dir, "vkv-lab-report.csv"),
                        in_directory(out_dir, "vkv-lab-report.html")};
  bool written = write_reports(report, outputs);
  // The block tools/docs/lab-doc.sh puts into docs/lab.md ("When optimism pays").
  const std::string finding_md = in_directory(out_dir, "vkv-lab-finding.md");
  if (auto why = lab::write_file_atomically(finding_md, lab::finding_markdown(report))) {
    std::cerr << "vkv-lab: error: writing " << finding_md << ": " << *why << '\n';
    written = false;
  } else {
    std::cout << "  finding:   " << finding_md << '\n';
  }
  std::cout << "\n6. " << lab::kTargetsHeading << '\n' << lab::targets_text(report);
  std::printf("\nDemo took %.1f s.\n", seconds_since(start));
  if (report.race->vkv_lost_updates != 0) {
    std::cerr << "vkv-lab: error: vkv lost " << report.race->vkv_lost_updates
              << " updates in the race\n";
    return 1;
  }
  return written ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "vkv-lab: the contention and retry-strategy lab of vkv.\n"
      "With no subcommand, runs the guided demo (under a minute): the lost-update race, a "
      "retry-strategy sweep, and a report (HTML with charts, JSON, CSV).",
      "vkv-lab"};
  std::string demo_out = ".";
  app.add_option("--out", demo_out, "Directory for the demo's vkv-lab-report.{html,json,csv}")
      ->type_name("DIR")
      ->default_str(".");

  CLI::App* race = app.add_subcommand("race", "Play the lost-update race: plain map vs vkv");
  std::string rounds_text = "1000";
  race->add_option("--rounds", rounds_text, "Rounds (one customer each)")
      ->type_name("N")
      ->default_str("1000");
  std::string race_redis, sweep_redis;
  race->add_option("--redis", race_redis, "Race two processes on this Redis server instead")
      ->type_name("URI");

  CLI::App* sweep =
      app.add_subcommand("sweep", "Measure retry strategies over windows x threads x hot keys");
  std::string threads_text = "1,2,4", keys_text = "1,16", zipf_text, write_share_text = "1",
              duration_text = "0.2", strategies_text = "all", seed_text = "42", windows_text = "0";
  Outputs sweep_outputs;
  std::string sweep_out;
  lab::text_option(sweep, "--threads", threads_text, "Thread counts, comma-separated", "N,...");
  lab::text_option(sweep, "--keys", keys_text, "Hot-key counts, comma-separated", "N,...");
  sweep
      ->add_option("--zipf", zipf_text, "Pick keys by Zipf with this theta >= 0 (default: uniform)")
      ->type_name("THETA");
  lab::text_option(sweep, "--write-share", write_share_text,
                   "Shares of operations that write, in [0,1], comma-separated (0.1: 90% reads)",
                   "P");
  lab::text_option(sweep, "--duration", duration_text, "Seconds per cell", "S");
  lab::text_option(sweep, "--strategies", strategies_text,
                   "Comma-separated, or all: no-backoff, exponential, full-jitter, "
                   "equal-jitter, decorrelated-jitter, adaptive, pessimistic",
                   "A,B,...");
  lab::text_option(sweep, "--windows", windows_text,
                   "Read-modify-write windows, comma-separated: 0, busy-<n><ns|us|ms> (CPU work "
                   "between read and write), blocking-<n><ns|us|ms> (a sleep standing for I/O), "
                   "or 'standard' for 0,busy-1us,busy-10us,blocking-10us,blocking-100us",
                   "W,...");
  sweep->add_option("--seed", seed_text, "Seed of every cell")->type_name("N")->default_str("42");
  std::string escalate_text = std::to_string(vkv::RetryPolicy{}.escalate_after);
  lab::text_option(sweep, "--escalate-after", escalate_text,
                   "RetryPolicy::escalate_after: lost attempts before a write takes its key's "
                   "priority (0: never)",
                   "N");
  sweep->add_option("--json", sweep_outputs.json, "Write the raw figures as JSON")
      ->type_name("FILE");
  sweep->add_option("--csv", sweep_outputs.csv, "Write the raw figures as CSV")->type_name("FILE");
  sweep->add_option("--html", sweep_outputs.html, "Write the HTML report")->type_name("FILE");
  sweep->add_option("--out", sweep_out, "Write vkv-lab-report.{html,json,csv} into DIR")
      ->type_name("DIR");
  sweep
      ->add_option("--redis", sweep_redis,
                   "Sweep over this Redis server: every strategy, pessimistic a Redis lock "
                   "(--threads, --keys, --duration, --seed, --strategies, --out/--json/--csv/"
                   "--html)")
      ->type_name("URI");
  const vkv::lab::ScenarioCommands scenarios(app);
  const vkv::lab::CacheCommand cache(app);
  app.require_subcommand(0, 1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    std::string message = error.what();
    for (char& ch : message) {
      if (ch == '\n') ch = ' ';
    }
    std::cerr << "vkv-lab: error: " << message << " (see vkv-lab --help)\n";
    return kUsageError;
  }

  const std::string command = command_line(argc, argv);
  try {
    if (cache.selected()) return cache.run(command);
    if (scenarios.selected()) return scenarios.run();
    if (*race) {
      const int rounds =
          static_cast<int>(parse_integer("--rounds", rounds_text, 1, 1'000'000, "the round count"));
      if (!race_redis.empty()) return run_redis_command(race_redis, rounds, nullptr);
      return run_race_command(rounds);
    }
    if (*sweep) {
      lab::SweepPlan plan;
      for (const std::string& item : split_list(threads_text)) {
        plan.threads.push_back(
            static_cast<int>(parse_integer("--threads", item, 1, 1024, "a thread count")));
      }
      for (const std::string& item : split_list(keys_text)) {
        plan.keys.push_back(
            static_cast<std::size_t>(parse_integer("--keys", item, 1, 100'000'000, "a key count")));
      }
      if (!zipf_text.empty()) {
        plan.distribution = workload::Distribution::zipf;
        plan.zipf_theta = parse_real("--zipf", zipf_text);
        if (plan.zipf_theta < 0) throw UsageError("--zipf: theta must be >= 0, got " + zipf_text);
      }
      plan.write_shares.clear();
      for (const std::string& item : split_list(write_share_text)) {
        const double write_share = parse_real("--write-share", item);
        if (write_share < 0 || write_share > 1) {
          throw UsageError("--write-share: must be in [0, 1], got " + item);
        }
        if (std::find(plan.write_shares.begin(), plan.write_shares.end(), write_share) ==
            plan.write_shares.end()) {
          plan.write_shares.push_back(write_share);
        }
      }
      const double seconds = parse_real("--duration", duration_text);
      if (seconds <= 0 || seconds > 3600) {
        throw UsageError("--duration: seconds per cell must be in (0, 3600], got " + duration_text);
      }
      plan.duration =
          std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1e3)));
      plan.strategies = parse_strategies(strategies_text);
      plan.windows = parse_windows(windows_text);
      plan.seed =
          static_cast<std::uint64_t>(parse_integer("--seed", seed_text, 0, INT64_MAX, "the seed"));
      plan.escalate_after = static_cast<int>(
          parse_integer("--escalate-after", escalate_text, 0, 1'000'000, "the loss count"));
      if (!sweep_out.empty()) {
        if (auto why = lab::check_writable_directory(sweep_out)) {
          throw UsageError("--out: cannot write report files into '" + sweep_out + "': " + *why);
        }
        if (sweep_outputs.json.empty())
          sweep_outputs.json = in_directory(sweep_out, "vkv-lab-report.json");
        if (sweep_outputs.csv.empty())
          sweep_outputs.csv = in_directory(sweep_out, "vkv-lab-report.csv");
        if (sweep_outputs.html.empty())
          sweep_outputs.html = in_directory(sweep_out, "vkv-lab-report.html");
      }
      if (!sweep_outputs.json.empty()) require_writable_file("--json", sweep_outputs.json);
      if (!sweep_outputs.csv.empty()) require_writable_file("--csv", sweep_outputs.csv);
      if (!sweep_outputs.html.empty()) require_writable_file("--html", sweep_outputs.html);
      if (!sweep_redis.empty()) {
        if (!zipf_text.empty() || plan.write_shares != std::vector<double>{1.0} ||
            plan.windows != std::vector<workload::Window>{workload::Window{}}) {
          throw UsageError(
              "--redis: the Redis sweep takes --threads, --keys, --duration, --seed, "
              "--strategies and the report options only");
        }
        return run_redis_command(sweep_redis, 0, &plan, &sweep_outputs, command);
      }
      return run_sweep_command(plan, sweep_outputs, command);
    }
    return run_demo(demo_out, command);
  } catch (const UsageError& error) {
    std::cerr << "vkv-lab: error: " << error.what() << '\n';
    return kUsageError;
  } catch (const std::exception& error) {
    // vkv_workload refusing a cell, or its counters' invariant breaking.
    std::cerr << "vkv-lab: error: " << error.what() << '\n';
    return 1;
  }
}
