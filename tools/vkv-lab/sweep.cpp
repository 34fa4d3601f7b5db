#include "sweep.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace vkv::lab {
namespace {

// A one-line bar redrawn in place; silent unless stderr is a terminal, so pipes and
// log files get only the results.
class Progress {
 public:
  explicit Progress(std::size_t total)
      : total_(total), enabled_(::isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}
  ~Progress() {
    if (enabled_) std::fputs("\r\033[K", stderr);
  }

  bool enabled() const { return enabled_; }

  // `done` cells finished and `fraction` of the current one.
  void show(std::size_t done, double fraction, const workload::CellConfig& next,
            double seconds_per_cell) {
    if (!enabled_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double cells_done = static_cast<double>(done) + fraction;
    // Measured pace once there is one; the planned cell duration before.
    const double pace = cells_done > 0.05 ? elapsed / cells_done : seconds_per_cell;
    const double left = pace * (static_cast<double>(total_) - cells_done);
    constexpr int kWidth = 24;
    const int filled =
        std::clamp(static_cast<int>(kWidth * cells_done / static_cast<double>(total_ ? total_ : 1)),
                   0, kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '.');
    std::fprintf(
        stderr, "\r\033[K[%s] %zu/%zu  %d thread%s x %zu key%s, window %s, %s  ~%.*f s left",
        bar.c_str(), std::min(done + 1, total_), total_, next.threads, next.threads == 1 ? "" : "s",
        next.keys, next.keys == 1 ? "" : "s", workload::window_name(next.window).c_str(),
        std::string(workload::strategy_name(next.strategy)).c_str(), left < 10 ? 1 : 0,
        std::max(0.0, left));
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::size_t total_;
  bool enabled_;
  Clock::time_point start_;
};

}  // namespace

std::vector<workload::CellResult> run_sweep(const SweepPlan& plan) {
  std::vector<workload::CellResult> results;
  results.reserve(plan.cell_count());
  Progress progress(plan.cell_count());
  const double seconds_per_cell = std::chrono::duration<double>(plan.duration).count();
  for (double write_share : plan.write_shares) {
    for (const workload::Window& window : plan.windows) {
      for (int threads : plan.threads) {
        for (std::size_t keys : plan.keys) {
          for (workload::Strategy strategy : plan.strategies) {
            workload::CellConfig config;
            config.window = window;
            config.threads = threads;
            config.keys = keys;
            config.distribution = plan.distribution;
            config.zipf_theta = plan.zipf_theta;
            config.write_share = write_share;
            config.strategy = strategy;
            config.duration = plan.duration;
            config.seed = plan.seed;
            config.escalate_after = plan.escalate_after;
            progress.show(results.size(), 0.0, config, seconds_per_cell);
            if (progress.enabled()) {
              // Called on this thread during the cell (vkv_workload's contract).
              config.progress = [&progress, &results, config_copy = config,
                                 seconds_per_cell](double fraction) {
                progress.show(results.size(), fraction, config_copy, seconds_per_cell);
              };
            }
            results.push_back(workload::run_cell(config));
            results.back().config.progress = nullptr;  // it refers to this frame
          }
        }
      }
    }
  }
  return results;
}

}  // namespace vkv::lab
