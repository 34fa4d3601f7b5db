// The fuzzer's differential driver as a plain test: every file of the committed seed
// corpus, plus a fixed batch of pseudo-random inputs, so the normal build exercises
// the decoder and the model without libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz/driver.hpp"

namespace vkv_test::fuzz {
namespace {

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void run_input(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  try {
    Driver::run(bytes.data(), bytes.size());
  } catch (const Mismatch& m) {
    ADD_FAILURE() << name << ": " << m.what();
  }
}

TEST(FuzzCorpus, EverySeedMatchesTheModel) {
  const std::filesystem::path dir(VKV_FUZZ_CORPUS_DIR);
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    run_input(read_file(entry.path()), entry.path().filename().string());
    ++files;
  }
  EXPECT_GE(files, 8) << "the seed corpus went missing";
}

TEST(FuzzCorpus, PseudoRandomInputsMatchTheModel) {
  std::mt19937 rng(2026);
  for (int i = 0; i < 300; ++i) {
    std::vector<std::uint8_t> bytes(16 + rng() % 400);
    for (std::uint8_t& b : bytes) b = static_cast<std::uint8_t>(rng());
    run_input(bytes, "random input " + std::to_string(i));
    if (HasFailure()) break;
  }
}

// The driver must be able to fail: a store whose find() reports one revision too many
// must be caught by the seeds.
struct OffByOneStore : vkv::Store<std::string> {
  using vkv::Store<std::string>::Store;
  std::optional<record_type> find(const std::string& id, vkv::ReadOptions o = {}) const {
    auto r = vkv::Store<std::string>::find(id, o);
    if (r) r->revision += 1;
    return r;
  }
};

TEST(FuzzCorpus, DriverCatchesABrokenStore) {
  const std::filesystem::path dir(VKV_FUZZ_CORPUS_DIR);
  int caught = 0, files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::vector<std::uint8_t> bytes = read_file(entry.path());
    ++files;
    try {
      BasicDriver<OffByOneStore>::run(bytes.data(), bytes.size());
    } catch (const Mismatch&) {
      ++caught;
    }
  }
  EXPECT_GT(files, 0);
  // A seed whose store ends empty reads nothing a revision could be wrong in.
  EXPECT_GE(caught * 4, files * 3) << caught << " of " << files << " seeds caught it";
}

}  // namespace
}  // namespace vkv_test::fuzz
