// The driver's vocabulary (see workload.hpp): strategy, distribution and window names,
// the retry policy each strategy runs, and YCSB's Zipfian generator. No threads here.
#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "workload.hpp"

namespace vkv::workload {

namespace {

constexpr std::array<std::pair<Strategy, std::string_view>, 8> kStrategyNames{{
    {Strategy::no_backoff, "no-backoff"},
    {Strategy::exponential, "exponential"},
    {Strategy::full_jitter, "full-jitter"},
    {Strategy::equal_jitter, "equal-jitter"},
    {Strategy::decorrelated_jitter, "decorrelated-jitter"},
    {Strategy::adaptive, "adaptive"},
    {Strategy::pessimistic, "pessimistic"},
    {Strategy::pessimistic_unversioned, "pessimistic-unversioned"},
}};

double zeta(std::uint64_t n, double theta) {
  double sum = 0;
  for (std::uint64_t i = 1; i <= n; ++i) sum += 1.0 / std::pow(static_cast<double>(i), theta);
  return sum;
}

}  // namespace

// ---- ZipfGenerator: YCSB's ZipfianGenerator.nextLong(), constants as YCSB computes them.
ZipfGenerator::ZipfGenerator(std::uint64_t items, double theta)
    : items_(items), theta_(theta), zetan_(0), alpha_(0), eta_(0), half_pow_theta_(0) {
  if (items == 0) throw std::invalid_argument("ZipfGenerator: no items");
  if (!(theta > 0) || theta == 1.0) throw std::invalid_argument("ZipfGenerator: theta");
  zetan_ = zeta(items, theta);
  const double zeta2 = zeta(2, theta);
  alpha_ = 1.0 / (1.0 - theta);
  eta_ = (1.0 - std::pow(2.0 / static_cast<double>(items), 1.0 - theta)) / (1.0 - zeta2 / zetan_);
  half_pow_theta_ = std::pow(0.5, theta);
}

std::uint64_t ZipfGenerator::operator()(double u) const noexcept {
  const double uz = u * zetan_;
  if (uz < 1.0) return 0;
  if (uz < 1.0 + half_pow_theta_) return std::min<std::uint64_t>(1, items_ - 1);
  const double rank = static_cast<double>(items_) * std::pow(eta_ * u - eta_ + 1.0, alpha_);
  if (!(rank >= 0)) return 0;
  return std::min(items_ - 1, static_cast<std::uint64_t>(rank));
}

// ---- names
std::string_view strategy_name(Strategy s) {
  for (const auto& [strategy, name] : kStrategyNames) {
    if (strategy == s) return name;
  }
  return "unknown";
}
std::optional<Strategy> parse_strategy(std::string_view text) {
  for (const auto& [strategy, name] : kStrategyNames) {
    if (name == text) return strategy;
  }
  return std::nullopt;
}
std::vector<Strategy> all_strategies() {
  std::vector<Strategy> all;
  for (const auto& entry : kStrategyNames) {
    if (entry.first != Strategy::pessimistic_unversioned) all.push_back(entry.first);
  }
  return all;
}
std::string_view distribution_name(Distribution d) {
  return d == Distribution::zipf ? "zipf" : "uniform";
}
std::optional<Distribution> parse_distribution(std::string_view text) {
  if (text == "uniform") return Distribution::uniform;
  if (text == "zipf") return Distribution::zipf;
  return std::nullopt;
}

std::string window_name(const Window& window) {
  const std::int64_t ns = window.length.count();
  if (ns <= 0) return "0";
  std::string length;
  if (ns % 1'000'000 == 0) {
    length = std::to_string(ns / 1'000'000) + "ms";
  } else if (ns % 1000 == 0) {
    length = std::to_string(ns / 1000) + "us";
  } else {
    length = std::to_string(ns) + "ns";
  }
  return std::string(window.kind == WindowKind::busy ? "busy-" : "blocking-") + length;
}

std::optional<Window> parse_window(std::string_view text) {
  if (text == "0" || text == "none") return Window{};
  Window window;
  std::string_view rest;
  for (const auto& [prefix, kind] :
       {std::pair<std::string_view, WindowKind>{"busy", WindowKind::busy},
        std::pair<std::string_view, WindowKind>{"blocking", WindowKind::blocking}}) {
    if (text.size() > prefix.size() + 1 && text.substr(0, prefix.size()) == prefix &&
        (text[prefix.size()] == '-' || text[prefix.size()] == ':')) {
      window.kind = kind;
      rest = text.substr(prefix.size() + 1);
    }
  }
  if (rest.empty()) return std::nullopt;
  std::size_t digits = 0;
  std::int64_t value = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
    if (value > 1'000'000'000) return std::nullopt;  // far past any sensible window
    value = value * 10 + (rest[digits] - '0');
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  const std::string_view unit = rest.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ns") scale = 1;
  if (unit == "us") scale = 1000;
  if (unit == "ms") scale = 1'000'000;
  if (scale == 0) return std::nullopt;
  window.length = std::chrono::nanoseconds(value * scale);
  if (window.length.count() == 0) return Window{};
  return window;
}

std::vector<Window> standard_windows() {
  using std::chrono::microseconds;
  return {Window{}, Window{WindowKind::busy, microseconds(1)},
          Window{WindowKind::busy, microseconds(10)},
          Window{WindowKind::blocking, microseconds(10)},
          Window{WindowKind::blocking, microseconds(100)}};
}

Window effective_window(const CellConfig& config) {
  if (config.window.length.count() > 0) return config.window;
  if (config.mutate_work.count() > 0) return Window{WindowKind::busy, config.mutate_work};
  return Window{};
}

std::optional<Jitter> jitter_of(Strategy strategy) {
  switch (strategy) {
    case Strategy::no_backoff:
    case Strategy::exponential:
      return Jitter::none;
    case Strategy::full_jitter:
    case Strategy::adaptive:
      return Jitter::full;
    case Strategy::equal_jitter:
      return Jitter::equal;
    case Strategy::decorrelated_jitter:
      return Jitter::decorrelated;
    case Strategy::pessimistic:
    case Strategy::pessimistic_unversioned:
      break;
  }
  return std::nullopt;
}

RetryPolicy policy_for(const CellConfig& config) {
  RetryPolicy policy;
  policy.max_retries = config.max_retries;
  policy.escalate_after = config.escalate_after;
  if (config.base_delay.count() > 0) policy.retry_delay = config.base_delay;
  if (config.max_delay.count() > 0) policy.max_delay = config.max_delay;
  if (const auto jitter = jitter_of(config.strategy)) policy.jitter = *jitter;
  if (config.strategy == Strategy::no_backoff) policy.retry_delay = std::chrono::nanoseconds(0);
  return policy;
}

}  // namespace vkv::workload
