// vkv::Result<R>: the outcome of a non-throwing (try_*) operation.
#pragma once

#include <optional>
#include <stdexcept>
#include <utility>

#include "vkv/errors.hpp"

namespace vkv {

// Either a value, or a refusal (Errc plus the ErrorInfo the throwing API would have
// put in its exception). On Errc::conflict, current() holds the record as it was
// when the version check failed, so a retry needs no extra read.
//
// Thread safety: a plain value type.
template <class R>
class Result {
 public:
  Result(R value) : value_(std::move(value)) {}  // NOLINT: implicit success
  Result(ErrorInfo error, std::optional<R> current = std::nullopt)
      : current_(std::move(current)), error_(std::move(error)) {}

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: !ok(). Throws std::logic_error when the precondition is broken.
  Errc error() const { return error_info().code; }
  const ErrorInfo& error_info() const {
    if (ok()) throw std::logic_error("vkv::Result::error() called on a successful result");
    return error_;
  }

  // The value; throws the Error subtype matching error() if !ok().
  R& value() & {
    if (!ok()) throw_error(error_);
    return *value_;
  }
  const R& value() const& {
    if (!ok()) throw_error(error_);
    return *value_;
  }
  R&& value() && {
    if (!ok()) throw_error(error_);
    return std::move(*value_);
  }

  // On Errc::conflict: the record as it is now. Empty otherwise.
  const std::optional<R>& current() const noexcept { return current_; }

 private:
  std::optional<R> value_;
  std::optional<R> current_;
  ErrorInfo error_;
};

}  // namespace vkv
