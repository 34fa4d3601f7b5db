// vkv-lab race|sweep --redis, run as a real process (VKV_LAB_BINARY) against a
// redis-server this test starts: the race between two processes loses updates with plain
// GET/SET and none with vkv; the sweep's counters add up; bad input is exit status 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <memory>
#include <string>

#include "redis/support/server.hpp"

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

TEST(VkvLabRedis, BadInputIsRefused) {
  const std::string uri = server().uri();
  for (const std::string& args :
       {"sweep --strategies adaptive --redis " + uri, "sweep --zipf 0.9 --redis " + uri,
        "sweep --windows busy-1us --redis " + uri, std::string("race --redis not-a-uri"),
        "sweep --json /tmp/x.json --redis " + uri}) {
    const LabRun run = run_lab(args);
    EXPECT_EQ(run.status, 2) << args << ": " << run.output;
    EXPECT_NE(run.output.find("vkv-lab: error:"), std::string::npos) << run.output;
  }
}

}  // namespace
}  // namespace vkv_test::redis
