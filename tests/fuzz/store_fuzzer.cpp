// libFuzzer target: differential fuzzing of vkv::Store against a sequential model.
// Build and run with tests/fuzz/run.sh (the `fuzz` preset, clang++-14); see
// docs/testing.md. The decoding and the comparisons live in driver.hpp, shared with
// the plain corpus test.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz/driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    vkv_test::fuzz::Driver::run(data, size);
  } catch (const vkv_test::fuzz::Mismatch& m) {
    std::fprintf(stderr, "vkv differs from the model: %s\n", m.what());
    std::abort();
  }
  return 0;
}
