// Runs the vkv-lab binary as a real process and captures what it printed (tests only;
// shared by the tests of tests/lab/ that run the binary). The including test defines
// VKV_LAB_BINARY, the binary's path (tests/lab/CMakeLists.txt).
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#ifndef VKV_LAB_BINARY
#error "lab_run.hpp needs VKV_LAB_BINARY, the path of the vkv-lab binary"
#endif

namespace vkv_test::lab {

struct LabRun {
  int status = -1;  // the exit status; -1 when it did not exit normally
  std::string out, err;
};

// The whole content of a file ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs vkv-lab with `args` (already shell-quoted where needed) in `cwd`; its stdout and
// stderr go through two files in `cwd`, removed before this returns.
inline LabRun run_lab(const std::string& args, const std::filesystem::path& cwd) {
  const std::filesystem::path out = cwd / "stdout.txt", err = cwd / "stderr.txt";
  const std::string command = "cd '" + cwd.string() + "' && '" VKV_LAB_BINARY "' " + args + " >'" +
                              out.string() + "' 2>'" + err.string() + "'";
  LabRun run;
  const int raw = std::system(command.c_str());
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = slurp(out);
  run.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return run;
}

}  // namespace vkv_test::lab
