// vkv::Transaction: checks and writes over several records, applied all-or-nothing
// by Store::commit.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vkv/version.hpp"

namespace vkv {

// Built by the caller, applied by Store::commit / try_commit. Holds its entries in
// the order given; that order decides which failing entry an error names.
//
// Thread safety: a plain value; build it on one thread (or synchronize), then any
// number of threads may commit the same const Transaction.
template <class T, class Key = std::string>
class Transaction {
 public:
  enum class Op { check, update, soft_delete, erase };
  struct Entry {
    Op op;
    Key id;
    Version expected;
    std::optional<T> value;  // update only
  };

  // The record must still be at this version (and not soft-deleted).
  Transaction& check(Key id, Version expected) {
    entries_.push_back(Entry{Op::check, std::move(id), expected, std::nullopt});
    return *this;
  }
  Transaction& update(Key id, Version expected, T value) {
    entries_.push_back(Entry{Op::update, std::move(id), expected, std::move(value)});
    return *this;
  }
  Transaction& soft_delete(Key id, Version expected) {
    entries_.push_back(Entry{Op::soft_delete, std::move(id), expected, std::nullopt});
    return *this;
  }
  // Erase may purge a soft-deleted record.
  Transaction& erase(Key id, Version expected) {
    entries_.push_back(Entry{Op::erase, std::move(id), expected, std::nullopt});
    return *this;
  }

  const std::vector<Entry>& entries() const noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace vkv
