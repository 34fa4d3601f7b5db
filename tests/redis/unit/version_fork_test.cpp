// Versions made in a fork()ed child never repeat its parent's (the generator re-keys in
// the child: src/vkv/version.cpp).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "vkv/detail/version_generator.hpp"

namespace {

std::vector<vkv::Version> make_versions(int n) {
  std::vector<vkv::Version> versions;
  for (int i = 0; i < n; ++i) versions.push_back(vkv::detail::next_version());
  return versions;
}

TEST(VersionFork, ChildAndParentNeverShareAVersion) {
  constexpr int kCount = 2000;
  make_versions(10);  // the parent's thread is attached and has counted before the fork
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    for (const vkv::Version& version : make_versions(kCount)) {
      const std::string text = version.to_string();
      if (write(pipe_fds[1], text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
        _exit(2);
      }
    }
    close(pipe_fds[1]);
    _exit(0);
  }
  close(pipe_fds[1]);
  const std::vector<vkv::Version> parent = make_versions(kCount);
  std::string received;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) received.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(received.size(), kCount * 36u);

  std::set<std::string> seen;
  for (const vkv::Version& version : parent) seen.insert(version.to_string());
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kCount));
  int shared = 0;
  for (std::size_t i = 0; i < received.size(); i += 36) {
    const auto parsed = vkv::Version::parse(std::string_view(received).substr(i, 36));
    ASSERT_TRUE(parsed.has_value());
    if (!seen.insert(parsed->to_string()).second) ++shared;
  }
  EXPECT_EQ(shared, 0) << "versions made in the child repeat the parent's";
}

}  // namespace
