// Child processes and loopback ports for tests that start real servers (tests only).
//
// Thread safety: a ChildProcess is used by one thread at a time. spawn() may be called
// from any thread, but the child is bound to the *spawning thread's* lifetime through
// PR_SET_PDEATHSIG (Linux sends the signal when that thread exits), so spawn servers
// from a thread that lives as long as they must (the test's main thread).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace vkv_test::redis {

// A directory under $TMPDIR (or /tmp) removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "vkv-redis");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// A forked and exec'd program. The child gets PR_SET_PDEATHSIG(SIGKILL) before exec, so
// it dies with the test process even when that is killed; the destructor kills it with
// SIGKILL by its pid and reaps it. Never anything by name.
class ChildProcess {
 public:
  ChildProcess() = default;
  // argv[0] is looked up in PATH. stdout and stderr go to `log` (appended).
  ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;

  pid_t pid() const noexcept { return pid_; }
  // True while the child has not exited (reaps it if it has).
  bool running();
  // SIGKILL, then waits for it. No-op when not running.
  void kill_now();
  // Waits up to `timeout` for the child to exit; its exit status (as from waitpid's
  // WEXITSTATUS, or 128 + signal), or -1 on timeout (the child keeps running).
  int wait_exit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
// A server started on it may still lose a race for it: callers retry with a new port.
int pick_free_port();

// The last `max_bytes` of a text file, for failure messages.
std::string tail_of(const std::filesystem::path& file, std::size_t max_bytes = 2000);

}  // namespace vkv_test::redis
