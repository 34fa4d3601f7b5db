// Internal (src/redis): reading the scripts' replies.
#pragma once

#include <hiredis/hiredis.h>

#include <optional>
#include <string>
#include <string_view>

#include "vkv/redis/detail/client.hpp"

namespace vkv::redis::detail {

std::string_view text_of(const redisReply* reply) noexcept;  // "" unless string/status/error
bool is_error(const redisReply* reply) noexcept;

// Five replies value, version, revision, deleted, pttl (starting at `first` in an
// array) as a record; nullopt when the version is nil (no record). Malformed fields
// make `error` non-empty.
std::optional<RawRecord> record_from(const redisReply* array, std::size_t first,
                                     std::string& error);

// The write script's reply as an Outcome (a server error reply: unavailable).
Outcome write_outcome(const redisReply* reply);
// The read script's reply.
ReadOutcome read_outcome(const redisReply* reply);

}  // namespace vkv::redis::detail
