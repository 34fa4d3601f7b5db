// `vkv-lab cache`, run as a real process (VKV_LAB_BINARY is its path): bad input gets
// exit status 2 and one line on stderr with nothing written; a short run writes its
// HTML and JSON reports, whose samples keep the store at its bound.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "lab/lab_run.hpp"

namespace {

namespace fs = std::filesystem;

using vkv_test::lab::LabRun;
using vkv_test::lab::run_lab;
using vkv_test::lab::slurp;

fs::path fresh_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path dir =
      fs::path(::testing::TempDir()) /
      ("vkv-lab-cache-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(VkvLabCache, BadInputIsRefusedBeforeAnythingRuns) {
  const fs::path dir = fresh_dir();
  for (const std::string args : {"cache --keys 0", "cache --capacity 200", "cache --threads x",
                                 "cache --duration -1", "cache --out /nonexistent/dir"}) {
    const LabRun run = run_lab(args, dir);
    EXPECT_EQ(run.status, 2) << args << "\n" << run.err;
    EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << args << "\n" << run.err;
    EXPECT_EQ(run.err.rfind("vkv-lab: error: ", 0), 0u) << run.err;
    EXPECT_EQ(run.out, "") << args;
    EXPECT_FALSE(fs::exists(dir / "vkv-lab-cache.html")) << args;
  }
  fs::remove_all(dir);
}

TEST(VkvLabCache, ShortRunWritesReportsAndHoldsTheBound) {
  const fs::path dir = fresh_dir();
  const LabRun run = run_lab(
      "cache --keys 2000 --capacity 10 --threads 2 --duration 0.2 --ticks 4 --ttl-ms 50 --out .",
      dir);
  ASSERT_EQ(run.status, 0) << run.err;
  const std::string html = slurp(dir / "vkv-lab-cache.html");
  const std::string json = slurp(dir / "vkv-lab-cache.json");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Hit rate per tick"), std::string::npos);
  EXPECT_NE(html.find("vkv_evictions_total{entity_type=\"CacheLab\"}"), std::string::npos);
  EXPECT_NE(json.find("\"max_records\":200"), std::string::npos);
  // Four samples, each holding at most the bound plus the slack of two threads.
  std::size_t samples = 0;
  for (std::size_t at = 0; (at = json.find("\"records\":", at)) != std::string::npos; ++samples) {
    at += 10;
    EXPECT_LE(std::stoul(json.substr(at)), 200u + 2u + 2u) << json;
  }
  EXPECT_EQ(samples, 4u);
  EXPECT_NE(json.find("\"evictions\":"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
