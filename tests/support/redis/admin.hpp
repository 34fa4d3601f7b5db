// A blocking hiredis connection for the harness's own admin commands (PING, CLUSTER ...,
// INFO, DEBUG ...): never used by the code under test (tests only).
//
// Thread safety: one Admin per thread; distinct Admins may be used at once.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;
struct redisReply;

namespace vkv_test::redis {

// A reply flattened to what the harness needs.
struct Reply {
  enum class Type { string, status, error, integer, nil, array } type = Type::nil;
  std::string text;  // string, status and error replies
  long long integer = 0;
  std::vector<Reply> elements;  // array replies

  bool is_error() const noexcept { return type == Type::error; }
};

class Admin {
 public:
  // Throws std::runtime_error when the server cannot be reached within `timeout`.
  Admin(const std::string& host, int port,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Sends one command; throws std::runtime_error on an I/O error or timeout (the
  // connection is then unusable). A Redis error reply is returned, not thrown.
  Reply command(const std::vector<std::string>& args);
  // command(), then throws if the reply is an error; returns the reply.
  Reply checked(const std::vector<std::string>& args);

  // Connects and PINGs once; true iff the answer is PONG (a server still loading its
  // AOF answers -LOADING, which is false). Never throws.
  static bool ping(const std::string& host, int port,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(200)) noexcept;

 private:
  redisContext* context_ = nullptr;
  std::string where_;
};

// "field:value" lines of an INFO or CLUSTER INFO reply; nullopt if the field is absent.
std::optional<std::string> info_field(std::string_view info, std::string_view field);

}  // namespace vkv_test::redis
