// Placeholder while the engine is built.
#include "vkv/redis/detail/client.hpp"

#include <stdexcept>

#include "vkv/redis/detail/keys.hpp"

namespace vkv::redis::detail {

struct Client::Impl {};

namespace {
[[noreturn]] void not_yet() { throw std::logic_error("vkv::redis: not built yet"); }
}  // namespace

Client::Client(const Options& options) {
  for (const auto& node : options.nodes) parse_uri(node);
}
Client::~Client() = default;
std::string Client::key_of(std::string_view) const { not_yet(); }
ReadOutcome Client::read(const std::string&) { not_yet(); }
std::vector<ReadOutcome> Client::read_many(std::span<const std::string>) { not_yet(); }
Outcome Client::write(const Write&) { not_yet(); }
std::vector<Outcome> Client::write_many(std::span<const Write>) { not_yet(); }
CommitOutcome Client::commit(std::span<const Write>) { not_yet(); }
void Client::validate_commit(std::span<const Write>) const { not_yet(); }
bool Client::scan(ScanCursor&, std::vector<std::pair<std::string, RawRecord>>&) { not_yet(); }

}  // namespace vkv::redis::detail
