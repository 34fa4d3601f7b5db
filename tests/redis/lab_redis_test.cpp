// vkv-lab race|sweep --redis, run as a real process (VKV_LAB_BINARY) against a
// redis-server this test starts: the race between two processes loses updates with plain
// GET/SET and none with vkv; the sweep runs every strategy (the Redis lock baseline
// included), writes the report files, and every increment it reports committed is on the
// server exactly once; bad input is exit status 2 with one line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/redis/admin.hpp"
#include "support/redis/server.hpp"

namespace vkv_test::redis {
namespace {

struct LabRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

LabRun run_lab(const std::string& args) {
  LabRun run;
  const std::string command = std::string(VKV_LAB_BINARY) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

RedisServer& server() {
  struct Holder {
    TempDir dir{"vkv-lab-redis"};
    RedisServer server{dir.path()};
  };
  static Holder holder;
  return holder.server;
}

TEST(VkvLabRedis, RaceBetweenTwoProcessesLosesNothingWithVkv) {
  const LabRun run = run_lab("race --rounds 40 --redis " + server().uri());
  ASSERT_EQ(run.status, 0) << run.output;
  // Plain GET/SET: the second SET of every round overwrites the first.
  EXPECT_NE(run.output.find("Plain GET/SET: 40 of 80 updates lost"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("vkv::redis:    0 of 80 updates lost; 40 writes refused"),
            std::string::npos)
      << run.output;
}

TEST(VkvLabRedis, SweepCountersAddUp) {
  const LabRun run = run_lab(
      "sweep --threads 1,3 --keys 1 --strategies no-backoff,full-jitter "
      "--duration 0.1 --redis " +
      server().uri());
  ASSERT_EQ(run.status, 0) << run.output;
  std::size_t cells = 0;
  for (std::size_t at = run.output.find(" add up"); at != std::string::npos;
       at = run.output.find(" add up", at + 1)) {
    ++cells;
  }
  EXPECT_EQ(cells, 4u) << run.output;
  EXPECT_EQ(run.output.find("DO NOT ADD UP"), std::string::npos) << run.output;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, sep);) fields.push_back(field);
  return fields;
}

// Every key matching `pattern` of type `type`, by SCAN (the test's own server).
std::vector<std::string> scan(Admin& admin, const std::string& pattern, const std::string& type) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    const Reply reply =
        admin.checked({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", type});
    cursor = reply.elements.at(0).text;
    for (const Reply& key : reply.elements.at(1).elements) keys.push_back(key.text);
  } while (cursor != "0");
  return keys;
}

TEST(VkvLabRedis, SweepRunsEveryStrategyWritesReportsAndCountsAddUp) {
  Admin admin(server().host(), server().port());
  admin.checked({"FLUSHALL"});  // only this sweep's records on the server below
  const TempDir out("vkv-lab-redis-out");
  const LabRun run = run_lab("sweep --threads 1,3 --keys 1,2 --duration 0.1 --out " +
                             out.path().string() + " --redis " + server().uri());
  ASSERT_EQ(run.status, 0) << run.output;
  for (const char* name : {"vkv-lab-report.html", "vkv-lab-report.json", "vkv-lab-report.csv"}) {
    EXPECT_GT(std::filesystem::file_size(out.path() / name), 0u) << name;
  }
  std::ifstream csv(out.path() / "vkv-lab-report.csv");
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  std::map<std::string, std::size_t> column;
  const auto header = split(line, ',');
  for (std::size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  std::map<std::string, int> cells_per_strategy;
  long long reported_writes = 0;
  while (std::getline(csv, line)) {
    const auto row = split(line, ',');
    ASSERT_GT(row.size(), column.at("gave_up")) << line;
    ++cells_per_strategy[row[column.at("strategy")]];
    EXPECT_EQ(row[column.at("committed")], row[column.at("writes")]) << line;
    reported_writes += std::stoll(row[column.at("writes")]);
  }
  // Every strategy of --strategies all (the lock baseline included), once per setting.
  const std::map<std::string, int> expected{
      {"no-backoff", 4},          {"exponential", 4}, {"full-jitter", 4}, {"equal-jitter", 4},
      {"decorrelated-jitter", 4}, {"adaptive", 4},    {"pessimistic", 4}};
  EXPECT_EQ(cells_per_strategy, expected) << run.output;
  EXPECT_GT(reported_writes, 0);
  std::ifstream json_file(out.path() / "vkv-lab-report.json");
  const std::string json((std::istreambuf_iterator<char>(json_file)), {});
  EXPECT_NE(json.find("\"backend\": \"redis " + server().uri() + "\""), std::string::npos);

  // The server's side: each record's counter equals its writes (revision - 1: every
  // write raised it by one), and their sum is what the report says committed.
  long long counters = 0, revisions = 0;
  const auto records = scan(admin, "vkv-lab:sweep-*", "hash");
  // A fresh entity per cell: (1 + 2 keys) x 7 strategies x 2 thread counts.
  EXPECT_EQ(records.size(), 3u * 7u * 2u);
  for (const std::string& key : records) {
    const Reply fields = admin.checked({"HMGET", key, "value", "revision"});
    const long long value = std::stoll(fields.elements.at(0).text);
    const long long revision = std::stoll(fields.elements.at(1).text);
    EXPECT_EQ(value, revision - 1) << key;
    counters += value;
    revisions += revision - 1;
  }
  EXPECT_EQ(counters, reported_writes) << run.output;
  EXPECT_EQ(revisions, reported_writes) << run.output;
  // Every lock was released (the release script deleted it).
  EXPECT_TRUE(scan(admin, "vkv-lab:*-lock:*", "string").empty());
}

TEST(VkvLabRedis, ServerKilledMidSweepIsAnErrorNotACrash) {
  // Its own server: killed while the lock baseline's workers are writing.
  const TempDir dir("vkv-lab-redis-dying");
  RedisServer dying(dir.path());
  const std::string command = std::string(VKV_LAB_BINARY) +
                              " sweep --threads 2 --keys 1 --strategies pessimistic "
                              "--duration 20 --redis " +
                              dying.uri() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  // The cell is running once its record has been written past its creation.
  const bool writing = poll_until(std::chrono::seconds(20), [&] {
    Admin admin(dying.host(), dying.port());
    for (const std::string& key : scan(admin, "vkv-lab:sweep-*", "hash")) {
      if (std::stoll(admin.checked({"HGET", key, "value"}).text) > 10) return true;
    }
    return false;
  });
  dying.kill9();
  std::string output;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = ::pclose(pipe);
  ASSERT_TRUE(writing) << output;
  // A worker's error ends the run as an error (exit 1, an "error:" line), not
  // std::terminate (SIGABRT) from the worker thread.
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << ": " << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("vkv-lab: error:"), std::string::npos) << output;
}

TEST(VkvLabRedis, BadInputIsRefused) {
  const std::string uri = server().uri();
  for (const std::string& args :
       {"sweep --strategies pessimistic-unversioned --redis " + uri,
        "sweep --zipf 0.9 --redis " + uri, "sweep --windows busy-1us --redis " + uri,
        "sweep --write-share 0.5 --redis " + uri, std::string("race --redis not-a-uri"),
        std::string("sweep --redis redis://127.0.0.1:notaport"),
        "sweep --out /nonexistent-vkv-dir --redis " + uri,
        "sweep --json /nonexistent-vkv-dir/x.json --redis " + uri}) {
    const LabRun run = run_lab(args);
    EXPECT_EQ(run.status, 2) << args << ": " << run.output;
    EXPECT_EQ(run.output.rfind("vkv-lab: error:", 0), 0u) << args << ": " << run.output;
    // One line: the error, nothing run before it.
    EXPECT_EQ(run.output.find('\n'), run.output.size() - 1) << args << ": " << run.output;
  }
}

}  // namespace
}  // namespace vkv_test::redis
