// vkv-lab cache: see cache_lab.hpp.
#include "cache_lab.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <vkv/metrics.hpp>
#include <vkv/store.hpp>

#include "cli.hpp"
#include "format.hpp"
#include "output.hpp"
#include "report.hpp"
#include "workload/records.hpp"
#include "workload/ycsb_keys.hpp"

namespace vkv::lab {

namespace {

struct Plan {
  std::size_t keys = 0;
  double capacity_percent = 0;
  int threads = 0;
  double theta = 0;
  double seconds = 0;
  int ticks = 0;
  long long ttl_ms = 0;
  std::string out;
};

struct Sample {
  double t = 0;                   // seconds since start
  double hit_rate = 0;            // in this tick
  double ops = 0;                 // lookups in this tick
  std::uint64_t evictions = 0;    // cumulative
  std::uint64_t expirations = 0;  // cumulative
  std::size_t records = 0;        // size()
  double rss_mib = 0;
};

double number(const std::string& flag, const std::string& text, double lo, double hi) {
  const auto value = real_number(text);
  if (!value || !(*value >= lo && *value <= hi)) {
    std::ostringstream why;
    why << flag << ": expected a number in [" << lo << ", " << hi << "], got '" << text << "'";
    throw std::invalid_argument(why.str());
  }
  return *value;
}

double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1048576.0;
}

std::vector<Sample> run_load(const Plan& plan, vkv::Store<workload::Value32>& store) {
  const workload::ZipfGenerator zipf(plan.keys, plan.theta);
  const std::vector<std::string> names = workload::make_keys(0, plan.keys);
  std::atomic<bool> stop{false};
  // Per-thread counters, read by the sampler (relaxed: statistics).
  struct alignas(64) Counts {
    std::atomic<std::uint64_t> lookups{0}, hits{0};
  };
  std::vector<Counts> counts(static_cast<std::size_t>(plan.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < plan.threads; ++t) {
    threads.emplace_back([&, t] {
      workload::KeyChooser chooser(workload::YcsbDistribution::zipfian, &zipf, plan.keys,
                                   42 + static_cast<std::uint64_t>(t));
      Counts& mine = counts[static_cast<std::size_t>(t)];
      while (!stop.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256; ++i) {
          const std::uint64_t key = chooser.next();
          const bool hit = store.visit(names[key], [](const auto&) {});
          if (!hit) store.put(names[key], workload::make_value(key));
          mine.lookups.store(mine.lookups.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
          if (hit) {
            mine.hits.store(mine.hits.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
          }
        }
      }
    });
  }
  std::vector<Sample> samples;
  const auto start = std::chrono::steady_clock::now();
  const auto tick = std::chrono::duration<double>(plan.seconds / plan.ticks);
  std::uint64_t last_lookups = 0, last_hits = 0;
  for (int i = 1; i <= plan.ticks; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                              tick * static_cast<double>(i)));
    std::uint64_t lookups = 0, hits = 0;
    for (const Counts& c : counts) {
      lookups += c.lookups.load(std::memory_order_relaxed);
      hits += c.hits.load(std::memory_order_relaxed);
    }
    const vkv::StoreStats stats = store.stats();
    Sample s;
    s.t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    s.ops = static_cast<double>(lookups - last_lookups);
    s.hit_rate = lookups == last_lookups ? 0
                                         : static_cast<double>(hits - last_hits) /
                                               static_cast<double>(lookups - last_lookups);
    s.evictions = stats.evictions;
    s.expirations = stats.expirations;
    s.records = store.size();
    s.rss_mib = rss_mib();
    samples.push_back(s);
    last_lookups = lookups;
    last_hits = hits;
  }
  stop.store(true);
  for (auto& thread : threads) thread.join();
  return samples;
}

// One line chart: x = seconds, y = `value(sample)`, with a dashed reference line.
template <class Value>
std::string line_chart(const std::vector<Sample>& samples, const std::string& title,
                       const std::string& y_label, Value value, double reference = NAN) {
  constexpr double kW = 640, kH = 220, kLeft = 70, kRight = 20, kTop = 30, kBottom = 40;
  double x_max = 0, y_max = 0;
  for (const Sample& s : samples) {
    x_max = std::max(x_max, s.t);
    y_max = std::max(y_max, value(s));
  }
  if (!std::isnan(reference)) y_max = std::max(y_max, reference);
  if (y_max <= 0) y_max = 1;
  if (x_max <= 0) x_max = 1;
  y_max *= 1.1;
  auto px = [&](double x) { return kLeft + x / x_max * (kW - kLeft - kRight); };
  auto py = [&](double y) { return kH - kBottom - y / y_max * (kH - kTop - kBottom); };
  std::ostringstream svg;
  svg.precision(4);
  svg << "<figure><svg xmlns='http://www.w3.org/2000/svg' width='" << kW << "' height='" << kH
      << "' role='img' aria-label='" << title << "'>";
  svg << "<text x='" << kLeft << "' y='18' font-weight='bold'>" << title << "</text>";
  svg << "<line x1='" << kLeft << "' y1='" << py(0) << "' x2='" << kW - kRight << "' y2='" << py(0)
      << "' stroke='#333'/>";
  svg << "<line x1='" << kLeft << "' y1='" << kTop << "' x2='" << kLeft << "' y2='" << py(0)
      << "' stroke='#333'/>";
  for (int i = 0; i <= 4; ++i) {
    const double y = y_max / 1.1 * i / 4;
    svg << "<text x='" << kLeft - 6 << "' y='" << py(y) + 4 << "' text-anchor='end' font-size='11'>"
        << y << "</text>";
  }
  svg << "<text x='" << (kLeft + kW - kRight) / 2 << "' y='" << kH - 8
      << "' text-anchor='middle' font-size='12'>seconds</text>";
  svg << "<text x='14' y='" << (kTop + kH - kBottom) / 2
      << "' font-size='12' transform='rotate(-90 14 " << (kTop + kH - kBottom) / 2
      << ")' text-anchor='middle'>" << y_label << "</text>";
  if (!std::isnan(reference)) {
    svg << "<line x1='" << kLeft << "' y1='" << py(reference) << "' x2='" << kW - kRight << "' y2='"
        << py(reference) << "' stroke='#c33' stroke-dasharray='6 4'/>";
  }
  svg << "<polyline fill='none' stroke='#1f6feb' stroke-width='2' points='";
  for (const Sample& s : samples) svg << px(s.t) << "," << py(value(s)) << " ";
  svg << "'/></svg></figure>\n";
  return svg.str();
}

std::string html_report(const Plan& plan, const std::vector<Sample>& samples,
                        const vkv::StoreStats& stats, std::size_t bound,
                        const std::string& command) {
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset='utf-8'><title>vkv-lab cache</title>"
          "<style>body{font-family:sans-serif;max-width:720px;margin:2em auto}"
          "td,th{padding:2px 8px;text-align:right}</style></head><body>\n";
  html << "<h1>vkv-lab cache</h1><p>" << plan.threads << " threads read " << plan.keys
       << " keys drawn Zipfian (theta " << plan.theta << ") for " << plan.seconds
       << " s; a miss fills the key with put. max_records = " << bound << " ("
       << plan.capacity_percent << " % of the keys)";
  if (plan.ttl_ms > 0) html << ", default_ttl = " << plan.ttl_ms << " ms";
  html << ". Command: <code>" << html_text_escape(command) << "</code></p>\n";
  html << line_chart(samples, "Hit rate per tick", "hit rate",
                     [](const Sample& s) { return s.hit_rate; });
  html << line_chart(
      samples, "Records held (dashed: the bound)", "records",
      [](const Sample& s) { return static_cast<double>(s.records); }, static_cast<double>(bound));
  html << line_chart(samples, "Evictions (cumulative)", "evictions",
                     [](const Sample& s) { return static_cast<double>(s.evictions); });
  if (plan.ttl_ms > 0) {
    html << line_chart(samples, "Expirations (cumulative)", "expirations",
                       [](const Sample& s) { return static_cast<double>(s.expirations); });
  }
  html << line_chart(samples, "Resident memory of the process", "MiB",
                     [](const Sample& s) { return s.rss_mib; });
  html << "<h2>Counters at the end</h2><pre>"
       << html_text_escape(vkv::to_prometheus(stats, "CacheLab")) << "</pre></body></html>\n";
  return html.str();
}

std::string json_report(const Plan& plan, const std::vector<Sample>& samples,
                        const vkv::StoreStats& stats, std::size_t bound) {
  std::ostringstream json;
  json << "{\"keys\":" << plan.keys << ",\"max_records\":" << bound
       << ",\"threads\":" << plan.threads << ",\"theta\":" << plan.theta
       << ",\"seconds\":" << plan.seconds << ",\"ttl_ms\":" << plan.ttl_ms << ",\"samples\":[";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    json << (i ? "," : "") << "{\"t\":" << s.t << ",\"hit_rate\":" << s.hit_rate
         << ",\"lookups\":" << s.ops << ",\"evictions\":" << s.evictions
         << ",\"expirations\":" << s.expirations << ",\"records\":" << s.records
         << ",\"rss_mib\":" << s.rss_mib << "}";
  }
  json << "],\"stats\":" << vkv::to_json(stats) << "}\n";
  return json.str();
}

}  // namespace

CacheCommand::CacheCommand(CLI::App& app)
    : subcommand_(app.add_subcommand(
          "cache",
          "A cache under a Zipfian load with a capacity bound: hit rate, evictions, memory")) {
  text_option(subcommand_, "--keys", keys_, "Distinct keys", "N");
  text_option(subcommand_, "--capacity", capacity_, "max_records, in percent of the keys", "P");
  text_option(subcommand_, "--threads", threads_, "Reader/filler threads", "N");
  text_option(subcommand_, "--zipf", theta_, "Zipf theta", "THETA");
  text_option(subcommand_, "--duration", duration_, "Seconds", "S");
  text_option(subcommand_, "--ticks", ticks_, "Samples over the run", "N");
  text_option(subcommand_, "--ttl-ms", ttl_ms_, "default_ttl in milliseconds (0: none)", "MS");
  text_option(subcommand_, "--out", out_, "Write vkv-lab-cache.{html,json} into DIR", "DIR");
}

int CacheCommand::run(const std::string& command) const {
  Plan plan;
  try {
    plan.keys = static_cast<std::size_t>(number("--keys", keys_, 10, 1e8));
    plan.capacity_percent = number("--capacity", capacity_, 0.01, 100);
    plan.threads = static_cast<int>(number("--threads", threads_, 1, 256));
    plan.theta = number("--zipf", theta_, 0, 10);
    plan.seconds = number("--duration", duration_, 0.01, 3600);
    plan.ticks = static_cast<int>(number("--ticks", ticks_, 1, 10000));
    plan.ttl_ms = static_cast<long long>(number("--ttl-ms", ttl_ms_, 0, 1e9));
    if (auto why = check_writable_directory(out_)) {
      throw std::invalid_argument("--out: cannot write into '" + out_ + "': " + *why);
    }
  } catch (const std::invalid_argument& error) {
    std::cerr << "vkv-lab: error: " << error.what() << '\n';
    return 2;
  }
  vkv::StoreOptions options;
  options.entity_type = "CacheLab";
  options.max_records = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::llround(plan.keys * plan.capacity_percent / 100.0)));
  options.default_ttl = std::chrono::milliseconds(plan.ttl_ms);
  vkv::Store<workload::Value32> store(options);
  std::cout << "vkv-lab cache: " << plan.threads << " threads, " << plan.keys << " keys (Zipf "
            << plan.theta << "), max_records " << options.max_records << "\n\n";
  const std::vector<Sample> samples = run_load(plan, store);
  std::printf("%8s %9s %12s %12s %12s %10s %9s\n", "t (s)", "hit rate", "lookups", "evictions",
              "expirations", "records", "RSS MiB");
  for (const Sample& s : samples) {
    std::printf("%8.2f %8.1f%% %12.0f %12llu %12llu %10zu %9.1f\n", s.t, s.hit_rate * 100, s.ops,
                static_cast<unsigned long long>(s.evictions),
                static_cast<unsigned long long>(s.expirations), s.records, s.rss_mib);
  }
  const vkv::StoreStats stats = store.stats();
  const std::string base = out_ + (out_.empty() || out_.back() == '/' ? "" : "/") + "vkv-lab-cache";
  int status = 0;
  for (const auto& [path, text] :
       {std::pair{base + ".html", html_report(plan, samples, stats, options.max_records, command)},
        std::pair{base + ".json", json_report(plan, samples, stats, options.max_records)}}) {
    if (auto why = write_file_atomically(path, text)) {
      std::cerr << "vkv-lab: error: cannot write " << path << ": " << *why << '\n';
      status = 1;
    } else {
      std::cout << "wrote " << path << '\n';
    }
  }
  return status;
}

}  // namespace vkv::lab
