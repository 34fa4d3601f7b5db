// Error formatting and the Version text forms (not on any hot path).
#include "vkv/errors.hpp"

#include <cstddef>
#include <iterator>
#include <utility>

namespace vkv {

namespace {
// Errc's names in declaration order, from not_found (1).
constexpr const char* kErrcNames[] = {"not_found", "conflict", "duplicate_key", "unavailable",
                                      "unknown_outcome"};
static_assert(std::size(kErrcNames) == static_cast<std::size_t>(Errc::unknown_outcome));
}  // namespace

const char* errc_name(Errc code) noexcept {
  const auto i = static_cast<std::size_t>(code) - 1;
  return i < std::size(kErrcNames) ? kErrcNames[i] : "unknown";
}

std::string error_message(const ErrorInfo& info) {
  std::string message = info.entity_type + " " + info.entity_id + ": ";
  switch (info.code) {
    case Errc::conflict:
      message += "version mismatch (expected " + info.expected.to_string() + ", found " +
                 info.actual.to_string() + ")";
      break;
    case Errc::not_found:
      message += info.reason.empty() ? std::string("not found") : info.reason;
      break;
    case Errc::duplicate_key:
      message += "already exists";
      break;
    case Errc::unavailable:
      message += info.reason.empty() ? std::string("server unavailable") : info.reason;
      break;
    case Errc::unknown_outcome:
      message += info.reason.empty() ? std::string("outcome unknown") : info.reason;
      break;
  }
  return message;
}

// An empty reason gets its code's default in error_message(), as in the constructors.
void throw_error(const ErrorInfo& info) {
  switch (info.code) {
    case Errc::conflict:
      throw OptimisticLockError(info.entity_type, info.entity_id, info.expected, info.actual);
    case Errc::duplicate_key:
      throw DuplicateKeyError(info.entity_type, info.entity_id);
    case Errc::unavailable:
      throw UnavailableError(info.entity_type, info.entity_id, info.reason);
    case Errc::unknown_outcome:
      throw UnknownOutcomeError(info.entity_type, info.entity_id, info.reason);
    case Errc::not_found:
      break;
  }
  throw EntityNotFoundError(info.entity_type, info.entity_id, info.reason);
}

Error::Error(Errc code, std::string entity_type, std::string entity_id, const std::string& message)
    : std::runtime_error(message),
      code_(code),
      entity_type_(std::move(entity_type)),
      entity_id_(std::move(entity_id)) {}

namespace {
ErrorInfo make_info(Errc code, const std::string& type, const std::string& id,
                    const std::string& reason = {}) {
  ErrorInfo info;
  info.code = code;
  info.entity_type = type;
  info.entity_id = id;
  info.reason = reason;
  return info;
}
}  // namespace

OptimisticLockError::OptimisticLockError(std::string entity_type, std::string entity_id,
                                         const Version& expected, const Version& actual)
    : Error(Errc::conflict, entity_type, entity_id,
            [&] {
              ErrorInfo info = make_info(Errc::conflict, entity_type, entity_id);
              info.expected = expected;
              info.actual = actual;
              return error_message(info);
            }()),
      expected_(expected),
      actual_(actual) {}

EntityNotFoundError::EntityNotFoundError(std::string entity_type, std::string entity_id,
                                         const std::string& reason)
    : Error(Errc::not_found, entity_type, entity_id,
            error_message(make_info(Errc::not_found, entity_type, entity_id, reason))) {}

DuplicateKeyError::DuplicateKeyError(std::string entity_type, std::string entity_id)
    : Error(Errc::duplicate_key, entity_type, entity_id,
            error_message(make_info(Errc::duplicate_key, entity_type, entity_id))) {}

UnavailableError::UnavailableError(std::string entity_type, std::string entity_id,
                                   const std::string& reason)
    : Error(Errc::unavailable, entity_type, entity_id,
            error_message(make_info(Errc::unavailable, entity_type, entity_id, reason))) {}

UnknownOutcomeError::UnknownOutcomeError(std::string entity_type, std::string entity_id,
                                         const std::string& reason)
    : Error(Errc::unknown_outcome, entity_type, entity_id,
            error_message(make_info(Errc::unknown_outcome, entity_type, entity_id, reason))) {}

}  // namespace vkv
