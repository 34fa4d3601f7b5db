// The main() every Google Benchmark binary here shares: parse the flags, refuse unknown
// ones, register this binary's benchmarks (some depend on scale knobs read at run time,
// so they are registered from code rather than with BENCHMARK), run them.
#pragma once

#include <benchmark/benchmark.h>

namespace vkv_bench {

// Returns main()'s exit status: 1 for an unrecognised flag, 0 once every selected
// benchmark ran.
inline int run_benchmarks(int argc, char** argv, void (*register_all)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace vkv_bench
