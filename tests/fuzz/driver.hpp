// Differential driver shared by the libFuzzer target (store_fuzzer.cpp) and the plain
// corpus test (corpus_test.cpp): decodes bytes into a sequence of operations over a
// small key space, runs each against a vkv::Store and against a sequential model
// (std::map), and compares every result: values, revisions, deleted flags, error
// codes and error fields, conflict records, counters. Versions are compared by
// identity: the model remembers the version each successful write returned and
// expects exactly that version until the next write, and every returned version must
// be new.
//
// The first difference throws Mismatch with a description of the operation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>
#include <vkv/detail/epoch.hpp>
#include <vkv/vkv.hpp>

namespace vkv_test::fuzz {

struct Mismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown by a patch's mutate when the input asks for it.
struct MutateFailed {};

// Reads the input front to back; past the end it yields zeros and reports done().
class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  std::uint8_t next() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// StoreT is vkv::Store<std::string>, or a deliberately broken class derived from it
// (the corpus test shows the driver catches one).
template <class StoreT = vkv::Store<std::string>>
class BasicDriver {
 public:
  using Rec = typename StoreT::record_type;

  static constexpr int kKeys = 4;

  explicit BasicDriver(std::uint8_t config) : store_(make_options(config)) {}

  // Runs the whole input; throws Mismatch at the first difference.
  static void run(const std::uint8_t* data, std::size_t size) {
    {
      Bytes in(data, size);
      BasicDriver driver(in.next());
      int step = 0;
      while (!in.done()) {
        driver.step_ = step++;
        driver.one(in);
      }
      driver.compare_all("end of input");
    }
    // Single-threaded, store destroyed: every retired node must be freeable now. This
    // also keeps each input's allocations balanced, which spares libFuzzer a
    // LeakSanitizer scan per input (7x the executions per second).
    if (vkv::detail::epoch::drain() != 0) {
      throw Mismatch("nodes still pending after the store was destroyed and drained");
    }
  }

 private:
  struct Model {
    std::string value;
    vkv::Version version;
    std::uint64_t revision = 0;
    bool deleted = false;
  };
  enum class Kind { update, patch, soft_delete, restore, erase, check };
  enum class Verdict { ok, not_found, conflict };

  vkv::StoreOptions make_options(std::uint8_t config) {
    vkv::StoreOptions o;
    o.shards = config % 5;  // 0 = chosen from the hardware
    o.entity_type = config & 0x80 ? "Widget" : "Record";
    o.on_conflict = [this](const vkv::ConflictEvent& e) {
      ++conflict_events_;
      last_event_id_ = e.entity_id;
      last_event_expected_ = e.expected;
      last_event_actual_ = e.actual;
      if (std::string(e.entity_type) != entity_type()) fail("on_conflict entity_type");
    };
    return o;
  }
  const std::string& entity_type() const { return store_.options().entity_type; }

  [[noreturn]] void fail(const std::string& what) const {
    std::ostringstream os;
    os << "step " << step_ << " (" << op_name_ << " " << key_ << "): " << what;
    throw Mismatch(os.str());
  }
  void require(bool ok, const char* what) const {
    if (!ok) fail(what);
  }

  // Realistic key lengths: k0 short (inside std::string's 15-character
  // buffer), k1 16, k2 36 (a UUID), k3 120 characters (heap memory, freed only when no
  // reader can see the entry).
  static std::string key_name(int k) {
    static constexpr std::size_t kLengths[] = {0, 16, 36, 120};
    std::string name = "k" + std::to_string(k);
    const std::size_t length = kLengths[static_cast<std::size_t>(k) % 4];
    if (name.size() < length) name.resize(length, '~');
    return name;
  }

  std::string read_value(Bytes& in) {
    const int len = in.next() % 9;
    std::string v;
    for (int i = 0; i < len; ++i) v.push_back(static_cast<char>('a' + in.next() % 26));
    return v;
  }

  // The model's version of `key` most of the time; else stale, foreign or nil.
  vkv::Version read_expected(Bytes& in, const std::string& key) {
    const std::uint8_t b = in.next();
    const auto it = model_.find(key);
    switch (b % 4) {
      case 0:
      case 1:
        return it != model_.end() ? it->second.version : vkv::Version{};
      case 2:
        if (issued_list_.empty()) return vkv::Version{};
        return issued_list_[in.next() % issued_list_.size()];
      default:
        return vkv::Version{};
    }
  }

  // The model's decision, in the contract's order: not found, then the version.
  Verdict decide(const std::string& key, Kind kind, const vkv::Version& expected,
                 bool include_deleted) const {
    const auto it = model_.find(key);
    if (it == model_.end()) return Verdict::not_found;
    const Model& m = it->second;
    switch (kind) {
      case Kind::update:
      case Kind::patch:
        if (m.deleted && !include_deleted) return Verdict::not_found;
        break;
      case Kind::soft_delete:
      case Kind::check:
        if (m.deleted) return Verdict::not_found;
        break;
      case Kind::restore:
        if (!m.deleted) return Verdict::not_found;
        break;
      case Kind::erase:
        break;
    }
    return m.version == expected ? Verdict::ok : Verdict::conflict;
  }

  void expect_record(const Rec& r, const std::string& key, const Model& m, const char* what) const {
    if (r.id != key) fail(std::string(what) + ": id");
    if (r.value != m.value)
      fail(std::string(what) + ": value '" + r.value + "' != '" + m.value + "'");
    if (r.version != m.version) fail(std::string(what) + ": version");
    if (r.revision != m.revision) {
      fail(std::string(what) + ": revision " + std::to_string(r.revision) +
           " != " + std::to_string(m.revision));
    }
    if (r.deleted != m.deleted) fail(std::string(what) + ": deleted flag");
  }

  // A successful write's record: must carry a version never issued before; the model
  // then adopts it.
  void adopt(const Rec& r, const std::string& key, Model next) {
    require(!r.version.is_nil(), "write returned the nil version");
    require(issued_.insert(r.version).second, "write returned a version issued before");
    issued_list_.push_back(r.version);
    next.version = r.version;
    expect_record(r, key, next, "written record");
    model_[key] = std::move(next);
  }

  // The record a successful write of `kind` must produce from the model's state.
  Model successor(const std::string& key, Kind kind, const std::string& value) const {
    Model m = model_.at(key);
    m.revision += 1;
    switch (kind) {
      case Kind::update:
      case Kind::patch:
        m.value = value;
        break;
      case Kind::soft_delete:
        m.deleted = true;
        break;
      case Kind::restore:
        m.deleted = false;
        break;
      default:
        break;
    }
    return m;
  }

  // Checks an exception's fields against the model's verdict.
  void expect_error(const vkv::Error& e, Verdict v, const vkv::Version& expected) const {
    require(e.entity_id() == key_, "error names another id");
    require(e.entity_type() == entity_type(), "error names another entity type");
    if (v == Verdict::conflict) {
      const auto* lock = dynamic_cast<const vkv::OptimisticLockError*>(&e);
      require(lock != nullptr && e.code() == vkv::Errc::conflict, "expected a conflict");
      require(lock->expected_version() == expected, "conflict: expected_version");
      require(lock->actual_version() == model_.at(key_).version, "conflict: actual_version");
    } else {
      require(v == Verdict::not_found, "unexpected error");
      require(dynamic_cast<const vkv::EntityNotFoundError*>(&e) != nullptr &&
                  e.code() == vkv::Errc::not_found,
              "expected not found");
    }
  }

  void expect_failed_result(const vkv::Result<Rec>& r, Verdict v) const {
    require(!r.ok(), "write succeeded; model refused it");
    if (v == Verdict::conflict) {
      require(r.error() == vkv::Errc::conflict, "expected conflict");
      require(r.current().has_value(), "conflict without current()");
      expect_record(*r.current(), key_, model_.at(key_), "conflict current()");
    } else {
      require(r.error() == vkv::Errc::not_found, "expected not_found");
    }
  }

  void count_failure(Verdict v) {
    if (v == Verdict::conflict) ++stats_.conflicts;
    if (v == Verdict::not_found) ++stats_.not_found;
  }

  // The version-checked single-record writes, throwing or not.
  void single_write(Bytes& in, Kind kind, bool use_try) {
    const vkv::Version expected = read_expected(in, key_);
    const bool include = kind == Kind::update || kind == Kind::patch ? in.next() % 2 == 1 : false;
    std::string value;
    bool mutate_throws = false;
    std::uint8_t patch_op = 0;
    if (kind == Kind::update) value = read_value(in);
    if (kind == Kind::patch) {
      patch_op = in.next();
      mutate_throws = patch_op % 7 == 0;
    }
    const Verdict v = decide(key_, kind, expected, include);
    if (kind == Kind::patch && v == Verdict::ok) {
      value = model_.at(key_).value;
      apply_patch(value, patch_op);
    }
    const vkv::WriteOptions wopts{include};
    auto mutate = [patch_op](std::string& s) {
      if (patch_op % 7 == 0) throw MutateFailed{};
      apply_patch(s, patch_op);
    };
    const std::uint64_t events_before = conflict_events_;

    std::optional<Rec> written;
    bool threw_mutate = false;
    if (use_try) {
      std::optional<vkv::Result<Rec>> r;
      try {
        switch (kind) {
          case Kind::update:
            r = store_.try_update_with_version(key_, expected, value, wopts);
            break;
          case Kind::patch:
            r = store_.try_patch_with_version(key_, expected, mutate, wopts);
            break;
          case Kind::soft_delete:
            r = store_.try_soft_delete(key_, expected);
            break;
          case Kind::restore:
            r = store_.try_restore(key_, expected);
            break;
          default:
            r = store_.try_erase(key_, expected);
            break;
        }
      } catch (const MutateFailed&) {
        threw_mutate = true;
      } catch (const std::exception& e) {
        fail(std::string("try_ call threw: ") + e.what());
      }
      if (!threw_mutate) {
        if (v != Verdict::ok) {
          expect_failed_result(*r, v);
        } else {
          require(r->ok(), "write refused; model accepted it");
          written = r->value();
        }
      }
    } else {
      try {
        switch (kind) {
          case Kind::update:
            written = store_.update_with_version(key_, expected, value, wopts);
            break;
          case Kind::patch:
            written = store_.patch_with_version(key_, expected, mutate, wopts);
            break;
          case Kind::soft_delete:
            written = store_.soft_delete(key_, expected);
            break;
          case Kind::restore:
            written = store_.restore(key_, expected);
            break;
          default:
            store_.erase(key_, expected);
            written = Rec{};  // erase returns nothing
            break;
        }
        require(v == Verdict::ok, "write succeeded; model refused it");
      } catch (const MutateFailed&) {
        threw_mutate = true;
      } catch (const vkv::Error& e) {
        expect_error(e, v, expected);
      }
    }

    if (threw_mutate) {
      require(kind == Kind::patch && v == Verdict::ok && mutate_throws,
              "mutate ran or threw when it should not");
      require(conflict_events_ == events_before, "on_conflict ran for a throwing mutate");
      return;  // nothing changes, nothing counted
    }
    require(conflict_events_ == events_before + (v == Verdict::conflict ? 1 : 0),
            "on_conflict must run exactly once per conflict");
    if (v == Verdict::conflict) {
      require(last_event_id_ == key_ && last_event_expected_ == expected &&
                  last_event_actual_ == model_.at(key_).version,
              "on_conflict event fields");
    }
    if (v != Verdict::ok) {
      count_failure(v);
      return;
    }
    require(!mutate_throws, "mutate should have thrown");
    ++stats_.writes;
    if (kind == Kind::erase) {
      if (use_try) expect_record(*written, key_, model_.at(key_), "erased record");
      model_.erase(key_);
      return;
    }
    adopt(*written, key_, successor(key_, kind, value));
  }

  static void apply_patch(std::string& s, std::uint8_t op) {
    switch (op % 3) {
      case 0:
        s.push_back(static_cast<char>('A' + op % 26));
        break;
      case 1:
        if (!s.empty()) s.erase(0, 1);
        break;
      default:
        s = s + s;
        if (s.size() > 64) s.resize(64);
        break;
    }
  }

  void create(Bytes& in, bool use_try) {
    const std::string value = read_value(in);
    const bool exists = model_.count(key_) != 0;
    if (use_try) {
      vkv::Result<Rec> r = store_.try_create(key_, value);
      if (exists) {
        require(!r.ok() && r.error() == vkv::Errc::duplicate_key, "expected duplicate_key");
        return;
      }
      require(r.ok(), "create refused");
      ++stats_.creates;
      adopt(r.value(), key_, Model{value, {}, 1, false});
      return;
    }
    try {
      Rec r = store_.create(key_, value);
      require(!exists, "create of an existing id succeeded");
      ++stats_.creates;
      adopt(r, key_, Model{value, {}, 1, false});
    } catch (const vkv::DuplicateKeyError& e) {
      require(exists, "duplicate for an absent id");
      require(e.code() == vkv::Errc::duplicate_key && e.entity_id() == key_ &&
                  e.entity_type() == entity_type(),
              "duplicate error fields");
    }
  }

  void expect_found(const std::optional<Rec>& r, const std::string& key, bool include) const {
    const auto it = model_.find(key);
    const bool visible = it != model_.end() && (!it->second.deleted || include);
    require(r.has_value() == visible, "find: presence");
    if (visible) expect_record(*r, key, it->second, "found record");
  }

  void update_with_retry(Bytes& in) {
    const std::uint8_t patch_op = static_cast<std::uint8_t>(in.next() | 1);  // never throws
    const auto it = model_.find(key_);
    const bool found = it != model_.end() && !it->second.deleted;
    try {
      Rec r =
          store_.update_with_retry(key_, [patch_op](std::string& s) { apply_patch(s, patch_op); });
      require(found, "update_with_retry of a missing record succeeded");
      ++stats_.writes;
      std::string value = it->second.value;
      apply_patch(value, patch_op);
      adopt(r, key_, successor(key_, Kind::update, value));
    } catch (const vkv::EntityNotFoundError& e) {
      require(!found, "update_with_retry: not found for a live record");
      require(e.entity_id() == key_, "error names another id");
      ++stats_.not_found;
    }
  }

  void transaction(Bytes& in, bool use_try) {
    vkv::Transaction<std::string> tx;
    struct Entry {
      Kind kind;
      std::string key;
      vkv::Version expected;
      std::string value;
    };
    std::vector<Entry> entries;
    const int n = 1 + in.next() % 4;
    std::set<std::string> keys;
    for (int i = 0; i < n; ++i) {
      Entry e;
      const std::uint8_t b = in.next();
      e.key = key_name(b % kKeys);
      e.kind = std::array{Kind::check, Kind::update, Kind::soft_delete, Kind::erase}[(b / 4) % 4];
      e.expected = read_expected(in, e.key);
      if (e.kind == Kind::update) e.value = read_value(in);
      switch (e.kind) {
        case Kind::check:
          tx.check(e.key, e.expected);
          break;
        case Kind::update:
          tx.update(e.key, e.expected, e.value);
          break;
        case Kind::soft_delete:
          tx.soft_delete(e.key, e.expected);
          break;
        default:
          tx.erase(e.key, e.expected);
          break;
      }
      keys.insert(e.key);
      entries.push_back(std::move(e));
    }
    key_ = entries.front().key;

    if (keys.size() != entries.size()) {  // an id twice: a programming error
      bool threw = false;
      try {
        if (use_try) {
          (void)store_.try_commit(tx);
        } else {
          (void)store_.commit(tx);
        }
      } catch (const std::invalid_argument&) {
        threw = true;
      }
      require(threw, "commit naming an id twice must throw invalid_argument");
      return;
    }

    // The model: the first entry (in order) that fails decides the error.
    Verdict v = Verdict::ok;
    std::size_t failed = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      // Only erase may purge a soft-deleted record: update is without include here.
      v = decide(entries[i].key, entries[i].kind == Kind::update ? Kind::check : entries[i].kind,
                 entries[i].expected, false);
      if (v != Verdict::ok) {
        failed = i;
        break;
      }
    }
    std::optional<std::vector<Rec>> written;
    if (use_try) {
      vkv::Result<std::vector<Rec>> r = store_.try_commit(tx);
      if (v != Verdict::ok) {
        require(!r.ok(), "commit succeeded; model refused it");
        require(r.error() == (v == Verdict::conflict ? vkv::Errc::conflict : vkv::Errc::not_found),
                "commit error code");
        require(r.error_info().entity_id == entries[failed].key, "commit error names another id");
        require(!r.current().has_value(), "failed commit has current()");
      } else {
        require(r.ok(), "commit refused; model accepted it");
        written = r.value();
      }
    } else {
      try {
        written = store_.commit(tx);
        require(v == Verdict::ok, "commit succeeded; model refused it");
      } catch (const vkv::Error& e) {
        key_ = entries[failed].key;
        expect_error(e, v, entries[failed].expected);
      }
    }
    if (v != Verdict::ok) {
      count_failure(v);
      return;
    }
    require(written->size() == entries.size(), "commit returned a record per entry");
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const Entry& e = entries[i];
      const Rec& r = (*written)[i];
      key_ = e.key;
      switch (e.kind) {
        case Kind::check:
          expect_record(r, e.key, model_.at(e.key), "checked record");
          break;
        case Kind::erase:
          expect_record(r, e.key, model_.at(e.key), "erased record");
          model_.erase(e.key);
          ++stats_.writes;
          break;
        default:
          adopt(r, e.key, successor(e.key, e.kind, e.value));
          ++stats_.writes;
          break;
      }
    }
  }

  void update_many(Bytes& in) {
    std::vector<typename StoreT::VersionedWrite> writes;
    const int n = 1 + in.next() % 4;
    for (int i = 0; i < n; ++i) {
      const std::string key = key_name(in.next() % kKeys);
      const vkv::Version expected = read_expected(in, key);
      writes.push_back({key, expected, read_value(in)});
    }
    const std::uint64_t events_before = conflict_events_;
    std::uint64_t conflicts = 0;
    const auto results =
        store_.update_many(std::span<const typename StoreT::VersionedWrite>(writes));
    require(results.size() == writes.size(), "update_many: one result per write");
    for (std::size_t i = 0; i < writes.size(); ++i) {
      key_ = writes[i].id;
      const Verdict v = decide(key_, Kind::update, writes[i].expected, false);
      if (v != Verdict::ok) {
        expect_failed_result(results[i], v);
        count_failure(v);
        conflicts += v == Verdict::conflict;
        continue;
      }
      require(results[i].ok(), "update_many: write refused; model accepted it");
      ++stats_.writes;
      adopt(results[i].value(), key_, successor(key_, Kind::update, writes[i].value));
    }
    require(conflict_events_ == events_before + conflicts, "on_conflict per failed write");
  }

  void compare_all(const char* where) {
    op_name_ = where;
    key_.clear();
    std::size_t live = 0;
    for (int k = 0; k < kKeys; ++k) {
      key_ = key_name(k);
      expect_found(store_.find(key_, vkv::ReadOptions{true}), key_, true);
      expect_found(store_.find(key_), key_, false);
      stats_.reads += 2;
      const auto it = model_.find(key_);
      live += it != model_.end() && !it->second.deleted;
    }
    key_.clear();
    require(store_.size() == live, "size()");
    for (bool include : {false, true}) {
      std::map<std::string, Rec> seen;
      store_.for_each(
          [&](const Rec& r) { require(seen.emplace(r.id, r).second, "for_each twice"); },
          vkv::ReadOptions{include});
      std::size_t expected_count = 0;
      for (const auto& [key, m] : model_) {
        if (m.deleted && !include) continue;
        ++expected_count;
        const auto it = seen.find(key);
        require(it != seen.end(), "for_each missed a record");
        expect_record(it->second, key, m, "for_each record");
      }
      require(seen.size() == expected_count, "for_each visited extra records");
    }
    const vkv::StoreStats s = store_.stats();
    require(s.reads == stats_.reads, "stats.reads");
    require(s.creates == stats_.creates, "stats.creates");
    require(s.writes == stats_.writes, "stats.writes");
    require(s.conflicts == stats_.conflicts, "stats.conflicts");
    require(s.not_found == stats_.not_found, "stats.not_found");
    require(s.retries == 0 && s.retries_exhausted == 0, "stats.retries without contention");
  }

  void one(Bytes& in) {
    const std::uint8_t op = in.next();
    key_ = key_name(in.next() % kKeys);
    static constexpr const char* names[] = {"create",
                                            "try_create",
                                            "find",
                                            "update",
                                            "try_update",
                                            "patch",
                                            "try_patch",
                                            "soft_delete",
                                            "try_soft_delete",
                                            "restore",
                                            "try_restore",
                                            "erase",
                                            "try_erase",
                                            "update_with_retry",
                                            "find_many",
                                            "update_many",
                                            "commit",
                                            "try_commit",
                                            "compare_all",
                                            "transform"};
    constexpr int kOps = sizeof(names) / sizeof(names[0]);
    op_name_ = names[op % kOps];
    switch (op % kOps) {
      case 0:
        return create(in, false);
      case 1:
        return create(in, true);
      case 2: {
        const bool include = in.next() % 2 == 1;
        ++stats_.reads;
        return expect_found(store_.find(key_, vkv::ReadOptions{include}), key_, include);
      }
      case 3:
        return single_write(in, Kind::update, false);
      case 4:
        return single_write(in, Kind::update, true);
      case 5:
        return single_write(in, Kind::patch, false);
      case 6:
        return single_write(in, Kind::patch, true);
      case 7:
        return single_write(in, Kind::soft_delete, false);
      case 8:
        return single_write(in, Kind::soft_delete, true);
      case 9:
        return single_write(in, Kind::restore, false);
      case 10:
        return single_write(in, Kind::restore, true);
      case 11:
        return single_write(in, Kind::erase, false);
      case 12:
        return single_write(in, Kind::erase, true);
      case 13:
        return update_with_retry(in);
      case 14: {
        std::vector<std::string> keys;
        const int n = in.next() % 6;
        for (int i = 0; i < n; ++i) keys.push_back(key_name(in.next() % kKeys));
        const bool include = in.next() % 2 == 1;
        const auto found = store_.find_many(std::span<const std::string>(keys), {include});
        stats_.reads += keys.size();
        require(found.size() == keys.size(), "find_many: one answer per id");
        for (std::size_t i = 0; i < keys.size(); ++i) {
          key_ = keys[i];
          expect_found(found[i], keys[i], include);
        }
        return;
      }
      case 15:
        return update_many(in);
      case 16:
        return transaction(in, false);
      case 17:
        return transaction(in, true);
      case 18:
        return compare_all("compare_all");
      default: {
        // update_with_version with a transform: the transform sees the committed record.
        const vkv::Version expected = read_expected(in, key_);
        const std::string value = read_value(in);
        const Verdict v = decide(key_, Kind::update, expected, false);
        try {
          const std::uint64_t rev =
              store_.update_with_version(key_, expected, value, {}, [&](const Rec& r) {
                require(v == Verdict::ok, "transform ran for a refused write");
                ++stats_.writes;
                adopt(r, key_, successor(key_, Kind::update, value));
                return r.revision;
              });
          require(rev == model_.at(key_).revision, "transform's result");
        } catch (const vkv::Error& e) {
          require(v != Verdict::ok, "refused; model accepted");
          expect_error(e, v, expected);
          count_failure(v);
        }
        return;
      }
    }
  }

  StoreT store_;
  std::map<std::string, Model> model_;
  std::unordered_set<vkv::Version> issued_;
  std::vector<vkv::Version> issued_list_;
  vkv::StoreStats stats_{};
  std::uint64_t conflict_events_ = 0;
  std::string last_event_id_;
  vkv::Version last_event_expected_, last_event_actual_;
  int step_ = 0;
  const char* op_name_ = "";
  std::string key_;
};

using Driver = BasicDriver<>;

}  // namespace vkv_test::fuzz
