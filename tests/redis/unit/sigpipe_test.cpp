// The SIGPIPE guard around the store's writes (src/redis/connection.hpp): a write to a
// socket whose peer is gone must not kill the process, must leave no SIGPIPE pending,
// and must not change the process's disposition or the thread's mask.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <thread>

#include "connection.hpp"
#include "vkv/redis.hpp"

namespace {

TEST(RedisSigpipe, WriteToAClosedPeerIsAnErrorNotADeath) {
  struct sigaction before {};
  ASSERT_EQ(sigaction(SIGPIPE, nullptr, &before), 0);
  ASSERT_EQ(before.sa_handler, SIG_DFL);  // default: a SIGPIPE delivered would kill us
  sigset_t mask_before;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask_before);

  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  close(fds[1]);
  ssize_t written = 0;
  int error = 0;
  {
    vkv::redis::detail::SigpipeGuard guard;
    written = write(fds[0], "x", 1);  // raises SIGPIPE in this thread
    error = errno;
  }
  close(fds[0]);
  EXPECT_EQ(written, -1);
  EXPECT_EQ(error, EPIPE);

  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(after.sa_handler, SIG_DFL);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
  sigset_t mask_after;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask_after);
  EXPECT_EQ(sigismember(&mask_after, SIGPIPE), sigismember(&mask_before, SIGPIPE));
}

TEST(RedisSigpipe, ASigpipeAlreadyPendingIsLeftForItsOwner) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old_mask);
  raise(SIGPIPE);  // pending, blocked: someone else's
  { vkv::redis::detail::SigpipeGuard guard; }
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 1);
  const timespec zero{0, 0};
  EXPECT_EQ(sigtimedwait(&pipe_only, nullptr, &zero), SIGPIPE);  // clean up
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

// A "server" that accepts each connection and closes it at once: a store writing a big
// value to it writes into a socket whose peer is gone (EPIPE, which raises SIGPIPE, the
// default action of which would kill this process).
TEST(RedisSigpipe, ServerClosingUnderABigWriteNeverKillsTheProcess) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t length = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::atomic<bool> stop{false};  // relaxed: polled with a 5 ms timeout
  std::atomic<int> accepted{0};   // relaxed: read after join
  std::thread closer([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      pollfd probe{listener, POLLIN, 0};
      if (poll(&probe, 1, 5) == 1) {
        const int client = accept(listener, nullptr, nullptr);
        if (client >= 0) {
          close(client);
          accepted.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  });
  struct sigaction before {};
  sigaction(SIGPIPE, nullptr, &before);
  vkv::redis::Options options;
  options.nodes = {"redis://127.0.0.1:" + std::to_string(ntohs(address.sin_port))};
  options.connect_timeout = std::chrono::milliseconds(500);
  options.command_timeout = std::chrono::milliseconds(500);
  vkv::redis::Store<std::string> store(options);
  const std::string big(8 << 20, 'x');
  for (int i = 0; i < 3; ++i) {
    auto result = store.try_create("k" + std::to_string(i), big);
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(result.error() == vkv::Errc::unavailable ||
                result.error() == vkv::Errc::unknown_outcome)
        << result.error_info().reason;
  }
  stop.store(true, std::memory_order_relaxed);
  closer.join();
  close(listener);
  EXPECT_GT(accepted.load(std::memory_order_relaxed), 0);
  struct sigaction after {};
  sigaction(SIGPIPE, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

}  // namespace
