// vkv-lab's stalled-holder and thundering-herd scenarios, run as a real process
// (VKV_LAB_BINARY is its path): bad input gets exit status 2 and one line; a small run
// of each prints figures that satisfy the scenario's invariants (counted, not timed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "lab/lab_run.hpp"

namespace {

namespace fs = std::filesystem;
using vkv_test::lab::LabRun;
using vkv_test::lab::run_lab;

fs::path scratch() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path path = fs::path(::testing::TempDir()) /
                  ("vkv-lab-scn-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
  fs::remove_all(path);
  fs::create_directories(path);
  return path;
}

void expect_usage_error(const std::string& args, const std::string& needle) {
  const fs::path dir = scratch();
  const LabRun run = run_lab(args, dir);
  EXPECT_EQ(run.status, 2) << args << "\n" << run.err;
  EXPECT_EQ(std::count(run.err.begin(), run.err.end(), '\n'), 1) << args << "\n" << run.err;
  EXPECT_EQ(run.err.rfind("vkv-lab: error: ", 0), 0u) << run.err;
  EXPECT_NE(run.err.find(needle), std::string::npos) << "wanted '" << needle << "' in: " << run.err;
  EXPECT_EQ(run.out, "") << args;
  fs::remove_all(dir);
}

// The rows of a printed table: first word (the strategy) -> the other words.
std::map<std::string, std::vector<std::string>> rows(const std::string& out) {
  std::map<std::string, std::vector<std::string>> table;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (first.empty() || line.find('|') != std::string::npos) continue;
    std::vector<std::string> rest;
    for (std::string word; words >> word;) rest.push_back(word);
    table.emplace(first, rest);  // the first table's row wins (the timeline comes later)
  }
  return table;
}

TEST(VkvLabScenarios, StallRejectsBadInput) {
  expect_usage_error("stall --threads 0", "--threads");
  expect_usage_error("stall --keys 0", "--keys");
  expect_usage_error("stall --write-share 1.5", "--write-share");
  expect_usage_error("stall --stall-ms 0", "--stall-ms");
  expect_usage_error("stall --stall-ms 20x", "--stall-ms");
  expect_usage_error("stall --strategies bogus", "'bogus'");
  expect_usage_error("stall --bogus", "--bogus");
}

TEST(VkvLabScenarios, HerdRejectsBadInput) {
  expect_usage_error("herd --threads 0", "--threads");
  expect_usage_error("herd --threads 65", "--threads");
  expect_usage_error("herd --rounds 0", "--rounds");
  expect_usage_error("herd --window sleep-1us", "--window");
  expect_usage_error("herd --strategies full-jitter,bogus", "'bogus'");
}

// Under the lock, every thread beside the stalled writer touches key 0 only, so none
// can complete more than the one operation it was finishing when the stall began; under
// vkv readers go on, and every figure is consistent.
TEST(VkvLabScenarios, StallLockHoldsEveryoneVkvDoesNot) {
  const fs::path dir = scratch();
  const LabRun run =
      run_lab("stall --threads 3 --keys 1 --stall-ms 5 --strategies full-jitter", dir);
  ASSERT_EQ(run.status, 0) << run.err;
  const auto table = rows(run.out);
  ASSERT_TRUE(table.count("pessimistic")) << run.out;
  ASSERT_TRUE(table.count("full-jitter")) << run.out;
  const auto& lock = table.at("pessimistic");
  ASSERT_GE(lock.size(), 2u) << run.out;
  EXPECT_LE(std::stoull(lock[0]) + std::stoull(lock[1]), 3u) << run.out;
  EXPECT_EQ(lock.back(), "1") << "a locked write takes one attempt\n" << run.out;
  const auto& vkv = table.at("full-jitter");
  EXPECT_GE(std::stoi(vkv.back()), 1) << run.out;
  EXPECT_NE(run.out.find("Finding: During the 5 ms stall"), std::string::npos) << run.out;
  fs::remove_all(dir);
}

// Every thread commits exactly one write per round: the lock takes exactly one attempt
// each; a retrying strategy at least one each.
TEST(VkvLabScenarios, HerdCountsEveryAttempt) {
  const fs::path dir = scratch();
  const LabRun run = run_lab(
      "herd --threads 6 --rounds 3 --window 0 --strategies pessimistic,exponential,full-jitter",
      dir);
  ASSERT_EQ(run.status, 0) << run.err;
  const auto table = rows(run.out);
  ASSERT_TRUE(table.count("pessimistic")) << run.out;
  EXPECT_EQ(table.at("pessimistic").at(0), "6.0") << run.out;
  EXPECT_EQ(table.at("pessimistic").at(1), "6") << run.out;
  EXPECT_GE(std::stod(table.at("full-jitter").at(0)), 6.0) << run.out;
  EXPECT_NE(run.out.find("Finding: AWS's result"), std::string::npos) << run.out;
  fs::remove_all(dir);
}

}  // namespace
