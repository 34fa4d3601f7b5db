// The SIGPIPE guard around the store's writes (core/redis/connection.hpp): a write to a
// socket whose peer is gone must not kill the process, must leave no SIGPIPE pending,
// and must not change the process's disposition or the thread's mask.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "connection.hpp"

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

}  // namespace
