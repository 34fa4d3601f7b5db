// Refusals that must come before anything is sent: a cross-slot commit in cluster mode
// and a commit naming an id twice. The "server" is a listening socket this test owns
// and never accepts on: any connection attempt would show up in its backlog.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "fault_proxy.hpp"
#include "vkv/redis.hpp"

namespace {

class Listener {
 public:
  Listener() { fd_ = vkv_test::listen_on_loopback(16, &port_); }
  ~Listener() { close(fd_); }
  std::string uri() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  // True if a connection is waiting to be accepted.
  bool was_contacted() const {
    pollfd probe{fd_, POLLIN, 0};
    return poll(&probe, 1, 0) == 1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

vkv::redis::Options cluster_at(const Listener& listener) {
  vkv::redis::Options options;
  options.nodes = {listener.uri()};
  options.cluster = true;
  options.connect_timeout = std::chrono::milliseconds(200);
  options.command_timeout = std::chrono::milliseconds(200);
  return options;
}

TEST(RedisPreflight, CrossSlotCommitIsRefusedBeforeAnyConnection) {
  Listener listener;
  vkv::redis::Store<std::string> store(cluster_at(listener));
  vkv::Transaction<std::string> tx;
  tx.update("{cust-1}:a", vkv::Version(), "x").update("{cust-2}:b", vkv::Version(), "y");
  try {
    store.commit(tx);
    FAIL() << "no std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("vkv:Record:{cust-1}:a"), std::string::npos) << what;
    EXPECT_NE(what.find("vkv:Record:{cust-2}:b"), std::string::npos) << what;
  }
  EXPECT_THROW(store.try_commit(tx), std::invalid_argument);
  EXPECT_FALSE(listener.was_contacted());

  vkv::Transaction<std::string> twice;
  twice.check("{c}:a", vkv::Version()).check("{c}:a", vkv::Version());
  EXPECT_THROW(store.try_commit(twice), std::invalid_argument);
  EXPECT_FALSE(listener.was_contacted());

  // The control: an operation that does go out contacts the listener (which never
  // answers, so it ends as unavailable after the timeouts).
  EXPECT_THROW(store.find("{c}:a"), vkv::UnavailableError);
  EXPECT_TRUE(listener.was_contacted());
}

TEST(RedisPreflight, OneSlotCommitIsNotRefusedAsCrossSlot) {
  Listener listener;
  vkv::redis::Store<std::string> store(cluster_at(listener));
  vkv::Transaction<std::string> tx;
  tx.check("{cust-1}:a", vkv::Version()).check("{cust-1}:b", vkv::Version());
  auto result = store.try_commit(tx);  // goes out; nobody answers
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), vkv::Errc::unavailable);
}

}  // namespace
