// Reading the scripts' replies into records and outcomes.
#include "replies.hpp"

#include <charconv>
#include <chrono>

namespace vkv::redis::detail {

std::string_view text_of(const redisReply* reply) noexcept {
  if (reply == nullptr) return {};
  if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS ||
      reply->type == REDIS_REPLY_ERROR) {
    return std::string_view(reply->str, reply->len);
  }
  return {};
}

bool is_error(const redisReply* reply) noexcept {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR;
}

std::optional<RawRecord> record_from(const redisReply* array, std::size_t first,
                                     std::string& error) {
  if (array == nullptr || array->type != REDIS_REPLY_ARRAY || array->elements < first + 5) {
    error = "malformed reply from the server";
    return std::nullopt;
  }
  redisReply* const* f = array->element + first;
  if (f[1]->type == REDIS_REPLY_NIL) return std::nullopt;
  RawRecord record;
  record.value = std::string(text_of(f[0]));
  const std::optional<Version> version = Version::parse(text_of(f[1]));
  const std::string_view revision = text_of(f[2]);
  const auto [end, ec] =
      std::from_chars(revision.data(), revision.data() + revision.size(), record.revision);
  const std::string_view deleted = text_of(f[3]);
  if (!version || ec != std::errc() || end != revision.data() + revision.size() ||
      (deleted != "0" && deleted != "1") || f[4]->type != REDIS_REPLY_INTEGER) {
    error = "the record's fields are malformed (not written by vkv?)";
    return std::nullopt;
  }
  record.version = *version;
  record.deleted = deleted == "1";
  if (f[4]->integer >= 0) {
    record.expires_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(f[4]->integer);
  }
  return record;
}

Outcome write_outcome(const redisReply* reply) {
  Outcome outcome;
  if (is_error(reply)) {
    outcome.status = Status::unavailable;
    outcome.reason = "refused by the server: " + std::string(text_of(reply));
    return outcome;
  }
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    outcome.status = Status::unavailable;
    outcome.reason = "malformed reply from the server";
    return outcome;
  }
  const std::string_view status = text_of(reply->element[0]);
  if (status == "absent") {
    outcome.status = Status::absent;
  } else if (status == "deleted") {
    outcome.status = Status::deleted;
  } else if (status == "not_deleted") {
    outcome.status = Status::not_deleted;
  } else if (status == "fenced") {
    outcome.status = Status::unavailable;
    outcome.reason = "refused: its version was fenced by an earlier fault resolution";
  } else if (status == "ok" || status == "conflict" || status == "exists") {
    outcome.status = status == "ok"         ? Status::ok
                     : status == "conflict" ? Status::conflict
                                            : Status::exists;
    std::string error;
    outcome.record = record_from(reply, 1, error);
    if (!outcome.record) {
      outcome.status = Status::unavailable;
      outcome.reason = error.empty() ? "malformed reply from the server" : error;
    }
  } else {
    outcome.status = Status::unavailable;
    outcome.reason = "unexpected reply from the server: " + std::string(status);
  }
  return outcome;
}

ReadOutcome read_outcome(const redisReply* reply) {
  ReadOutcome outcome;
  if (is_error(reply)) {
    outcome.reached = false;
    outcome.reason = "refused by the server: " + std::string(text_of(reply));
    return outcome;
  }
  std::string error;
  outcome.record = record_from(reply, 0, error);
  if (!error.empty()) {
    outcome.reached = false;
    outcome.reason = error;
  }
  return outcome;
}

}  // namespace vkv::redis::detail
