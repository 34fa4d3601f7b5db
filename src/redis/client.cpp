// vkv::redis::detail::Client: options, keys, and each operation as script calls.
#include "vkv/redis/detail/client.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <set>
#include <stdexcept>
#include <thread>

#include "replies.hpp"
#include "resolve.hpp"
#include "router.hpp"
#include "scripts.hpp"
#include "vkv/detail/version_generator.hpp"
#include "vkv/errors.hpp"
#include "vkv/redis/detail/keys.hpp"

namespace vkv::redis::detail {

namespace {

// Op's names as the scripts spell them, in Op's declaration order.
constexpr const char* kOpNames[] = {"create",  "put",   "update", "soft_delete",
                                    "restore", "erase", "check"};
static_assert(std::size(kOpNames) == static_cast<std::size_t>(Op::check) + 1);

const char* op_name(Op op) { return kOpNames[static_cast<std::size_t>(op)]; }

std::string ttl_arg(const std::optional<std::chrono::milliseconds>& ttl) {
  return ttl ? std::to_string(ttl->count()) : std::string();
}

// SCAN's MATCH treats * ? [ ] \ as glob syntax: escape them in the literal prefix.
std::string glob_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::vector<Address> checked_nodes(const Options& options) {
  if (options.nodes.empty()) throw std::invalid_argument("vkv::redis: Options::nodes is empty");
  if (!options.cluster && options.nodes.size() > 1) {
    throw std::invalid_argument(
        "vkv::redis: several nodes given without Options::cluster; a single server takes one");
  }
  for (const std::string* text : {&options.key_prefix, &options.entity_type}) {
    if (text->find_first_of("{}") != std::string::npos) {
      throw std::invalid_argument(
          "vkv::redis: key_prefix and entity_type may not hold '{' or "
          "'}' (they would change a key's hash slot): \"" +
          *text + "\"");
    }
  }
  if (options.wait_replicas < 0) {
    throw std::invalid_argument("vkv::redis: Options::wait_replicas is negative");
  }
  if (options.wait_replicas > 0 &&
      (options.wait_timeout.count() <= 0 || options.wait_timeout >= options.command_timeout)) {
    throw std::invalid_argument(
        "vkv::redis: Options::wait_timeout must be positive and shorter than "
        "command_timeout when wait_replicas is set");
  }
  if (options.max_idle.count() <= 0) {
    throw std::invalid_argument("vkv::redis: Options::max_idle must be positive");
  }
  if (options.call_timeout < options.command_timeout) {
    throw std::invalid_argument(
        "vkv::redis: Options::call_timeout must be at least command_timeout");
  }
  std::vector<Address> nodes;
  for (const std::string& uri : options.nodes) nodes.push_back(parse_uri(uri));
  return nodes;
}

NodeSettings node_settings(const Options& options) {
  NodeSettings settings;
  settings.connect = options.connect_timeout;
  settings.command = options.command_timeout;
  settings.max_idle = options.max_idle;
  for (const std::string& uri : options.nodes) {
    Credentials credentials;
    parse_uri(uri, &credentials);
    if (!credentials.password.empty()) {
      settings.user = credentials.user;
      settings.password = credentials.password;
      break;
    }
  }
  return settings;
}

std::size_t per_node(const Options& options) {
  if (options.connections_per_node != 0) return options.connections_per_node;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

}  // namespace

struct Client::Impl {
  explicit Impl(const Options& options)
      : entity_type(options.entity_type),
        prefix(options.key_prefix + ":" + options.entity_type + ":"),
        router(checked_nodes(options), options.cluster, node_settings(options), per_node(options),
               RefreshPolicy{options.refresh_cooldown, options.refresh_period}),
        wait{options.wait_replicas, options.wait_timeout},
        call_timeout(options.call_timeout) {}

  Deadline deadline() const { return Deadline::after(call_timeout); }

  std::string key_of(std::string_view id) const { return prefix + std::string(id); }

  Call write_call(const Write& write, const std::string& key, const Version& fresh) const {
    const Script& script = write_script();
    Call call;
    call.slot = key_slot(key);
    call.script = &script;
    call.wait = wait;
    call.args = {
        "EVALSHA",
        "",  // the digest, filled when sent
        "1",
        key,
        op_name(write.op),
        write.op == Op::create || write.op == Op::put ? std::string() : write.expected.to_string(),
        fresh.to_string(),
        write.value,
        write.include_deleted ? "1" : "0",
        ttl_arg(write.ttl),
        std::to_string(kTombstoneLifetimeMs)};
    return call;
  }

  Call read_call(const std::string& key) const {
    const Script& script = read_script();
    Call call;
    call.slot = key_slot(key);
    call.script = &script;
    call.args = {"EVALSHA", "", "1", key};
    call.idempotent = true;
    return call;
  }

  // A write's reply: decided, or (lost / an error a script may have half-run into)
  // returned as a LostWrite to resolve. Not sent or refused before running: unavailable.
  std::optional<Outcome> decide(const Write& write, const std::string& key, const Version& fresh,
                                CallResult& result, Clock::time_point sent,
                                std::vector<LostWrite>& lost) const {
    if (result.io == Io::not_sent) {
      Outcome outcome;
      outcome.status = Status::unavailable;
      outcome.reason = result.error;
      return outcome;
    }
    std::string why = result.error;
    if (result.io == Io::ok) {
      const redisReply* reply = result.reply.get();
      if (!is_error(reply) || refused_before_running(text_of(reply))) {
        Outcome outcome = write_outcome(reply);
        if (outcome.status == Status::ok && short_of_replicas(result.replicas)) {
          outcome.status = Status::unknown_outcome;
          outcome.record.reset();
          outcome.reason = unreplicated(result.replicas);
        }
        return outcome;
      }
      why = "the script failed: " + std::string(text_of(reply));
    }
    lost.push_back(LostWrite{&write, key, fresh, std::move(why), sent});
    return std::nullopt;
  }

  // A write that applied, followed by a WAIT that counted fewer replicas than asked.
  bool short_of_replicas(long long replicas) const {
    return wait.replicas > 0 && replicas < wait.replicas;
  }
  std::string unreplicated(long long replicas) const {
    return "applied on the master, but WAIT counted " + std::to_string(std::max(replicas, 0LL)) +
           " of " + std::to_string(wait.replicas) + " replicas within " +
           std::to_string(wait.timeout.count()) + " ms: a failover may still lose it";
  }

  const std::string entity_type;
  const std::string prefix;
  Router router;
  const WaitFor wait;
  const std::chrono::milliseconds call_timeout;
};

Client::Client(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
Client::~Client() = default;

std::string Client::key_of(std::string_view id) const { return impl_->key_of(id); }

std::uint64_t Client::refresh_sweeps() const noexcept { return impl_->router.refresh_sweeps(); }

ReadOutcome Client::read(const std::string& id) {
  CallResult result = impl_->router.call(impl_->read_call(impl_->key_of(id)), impl_->deadline());
  if (result.io != Io::ok) {
    ReadOutcome outcome;
    outcome.reached = false;
    outcome.reason = result.error;
    return outcome;
  }
  return read_outcome(result.reply.get());
}

std::vector<ReadOutcome> Client::read_many(std::span<const std::string> ids) {
  std::vector<Call> calls;
  calls.reserve(ids.size());
  for (const std::string& id : ids) calls.push_back(impl_->read_call(impl_->key_of(id)));
  std::vector<CallResult> results = impl_->router.call_many(calls, impl_->deadline());
  std::vector<ReadOutcome> outcomes;
  outcomes.reserve(ids.size());
  for (CallResult& result : results) {
    if (result.io != Io::ok) {
      ReadOutcome outcome;
      outcome.reached = false;
      outcome.reason = result.error;
      outcomes.push_back(std::move(outcome));
    } else {
      outcomes.push_back(read_outcome(result.reply.get()));
    }
  }
  return outcomes;
}

Outcome Client::write(const Write& write) {
  return std::move(write_many(std::span<const Write>(&write, 1)).front());
}

std::vector<Outcome> Client::write_many(std::span<const Write> writes) {
  const Deadline deadline = impl_->deadline();
  std::vector<std::string> keys;
  std::vector<Version> fresh;
  std::vector<Call> calls;
  keys.reserve(writes.size());
  fresh.reserve(writes.size());
  calls.reserve(writes.size());
  for (const Write& write : writes) {
    keys.push_back(impl_->key_of(write.id));
    fresh.push_back(vkv::detail::next_version());
    calls.push_back(impl_->write_call(write, keys.back(), fresh.back()));
  }
  const Clock::time_point sent = Clock::now();
  std::vector<CallResult> results =
      writes.size() == 1 ? std::vector<CallResult>{} : impl_->router.call_many(calls, deadline);
  if (writes.size() == 1) results.push_back(impl_->router.call(calls.front(), deadline));
  std::vector<std::optional<Outcome>> decided(writes.size());
  std::vector<LostWrite> lost;
  std::vector<std::size_t> lost_at;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    const std::size_t before = lost.size();
    decided[i] = impl_->decide(writes[i], keys[i], fresh[i], results[i], sent, lost);
    if (lost.size() != before) lost_at.push_back(i);
  }
  if (!lost.empty()) {
    // Every lost write resolved together: one fence round trip per node.
    std::vector<Outcome> resolved = resolve_writes(impl_->router, lost, impl_->wait, deadline);
    for (std::size_t k = 0; k < lost_at.size(); ++k) decided[lost_at[k]] = std::move(resolved[k]);
  }
  std::vector<Outcome> outcomes;
  outcomes.reserve(writes.size());
  for (auto& outcome : decided) outcomes.push_back(std::move(*outcome));
  return outcomes;
}

void Client::validate_commit(std::span<const Write> entries) const {
  std::set<std::string_view> seen;
  for (const Write& entry : entries) {
    if (!seen.insert(entry.id).second) {
      throw std::invalid_argument("vkv::redis: transaction names " + impl_->entity_type + " " +
                                  entry.id + " twice");
    }
  }
  if (!impl_->router.cluster() || entries.empty()) return;
  const std::uint16_t slot = key_slot(impl_->key_of(entries.front().id));
  for (const Write& entry : entries) {
    if (key_slot(impl_->key_of(entry.id)) != slot) {
      std::string message =
          "vkv::redis: in cluster mode a commit's keys must share one hash slot (put the same "
          "{tag} in every id); these do not:";
      for (const Write& each : entries) {
        const std::string key = impl_->key_of(each.id);
        message += " " + key + " (slot " + std::to_string(key_slot(key)) + ")";
      }
      throw std::invalid_argument(message);
    }
  }
}

CommitOutcome Client::commit(std::span<const Write> entries) {
  validate_commit(entries);
  CommitOutcome outcome;
  if (entries.empty()) return outcome;
  const Deadline deadline = impl_->deadline();
  std::vector<std::string> keys;
  std::vector<Version> fresh;
  Call call;
  call.script = &commit_script();
  call.wait = impl_->wait;
  call.args = {"EVALSHA", "", std::to_string(entries.size())};
  for (const Write& entry : entries) {
    keys.push_back(impl_->key_of(entry.id));
    call.args.push_back(keys.back());
    fresh.push_back(entry.op == Op::check ? Version() : vkv::detail::next_version());
  }
  call.slot = key_slot(keys.front());
  call.args.push_back(std::to_string(kTombstoneLifetimeMs));
  for (std::size_t i = 0; i < entries.size(); ++i) {
    call.args.push_back(op_name(entries[i].op));
    call.args.push_back(entries[i].expected.to_string());
    call.args.push_back(fresh[i].is_nil() ? std::string() : fresh[i].to_string());
    call.args.push_back(entries[i].value);
    call.args.push_back(ttl_arg(entries[i].ttl));
  }
  CallResult result = impl_->router.call(call, deadline);
  if (result.io == Io::not_sent) {
    outcome.status = Status::unavailable;
    outcome.reason = result.error;
    return outcome;
  }
  if (result.io == Io::sent_no_reply) {
    return resolve_commit(impl_->router, call.slot, keys, entries, fresh, result.error, impl_->wait,
                          deadline);
  }
  const redisReply* reply = result.reply.get();
  if (is_error(reply) && !refused_before_running(text_of(reply))) {
    // An error after one of its writes would leave the rest undone: learn what is there.
    return resolve_commit(impl_->router, call.slot, keys, entries, fresh,
                          "the script failed: " + std::string(text_of(reply)), impl_->wait,
                          deadline);
  }
  if (is_error(reply) || reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    outcome.status = Status::unavailable;
    outcome.reason = "refused by the server: " + std::string(text_of(reply));
    return outcome;
  }
  const std::string_view status = text_of(reply->element[0]);
  if (status == "ok" && reply->elements == entries.size() + 1) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      std::string error;
      std::optional<RawRecord> record = record_from(reply->element[i + 1], 0, error);
      if (!record) {
        outcome.status = Status::unknown_outcome;  // it committed; the reply is unreadable
        outcome.reason = error.empty() ? "malformed reply" : error;
        outcome.records.clear();
        return outcome;
      }
      outcome.records.push_back(std::move(*record));
    }
    if (impl_->short_of_replicas(result.replicas)) {
      outcome.status = Status::unknown_outcome;  // it committed on the master only
      outcome.reason = impl_->unreplicated(result.replicas);
      outcome.records.clear();
    }
    return outcome;
  }
  if (status == "fail" && reply->elements >= 3) {
    outcome.failed_entry = static_cast<std::size_t>(reply->element[1]->integer - 1);
    const std::string_view why = text_of(reply->element[2]);
    outcome.status = why == "absent"    ? Status::absent
                     : why == "deleted" ? Status::deleted
                                        : Status::conflict;
    if (outcome.status == Status::conflict && reply->elements >= 4) {
      outcome.actual = Version::parse(text_of(reply->element[3])).value_or(Version());
    }
    return outcome;
  }
  outcome.status = Status::unavailable;
  outcome.reason = status == "fenced" ? "refused: fenced by an earlier fault resolution"
                                      : "unexpected reply from the server";
  return outcome;
}

bool Client::scan(ScanCursor& cursor, std::vector<std::pair<std::string, RawRecord>>& out) {
  const Deadline deadline = impl_->deadline();  // one per batch
  if (!cursor.started) {
    cursor.started = true;
    std::vector<NodePool*> masters = impl_->router.masters(deadline);
    for (NodePool* node : masters) cursor.masters.push_back(node->address().text());
    if (masters.empty()) throw UnavailableError(impl_->entity_type, "*", "no node to scan");
  }
  if (cursor.node >= cursor.masters.size()) return false;
  std::vector<NodePool*> masters = impl_->router.masters(deadline);
  NodePool* node = nullptr;
  for (NodePool* each : masters) {
    if (each->address().text() == cursor.masters[cursor.node]) node = each;
  }
  if (node == nullptr) {
    throw UnavailableError(impl_->entity_type, "*",
                           "node " + cursor.masters[cursor.node] + " left during the scan");
  }
  CallResult result = impl_->router.call_node(
      *node, Args{"SCAN", cursor.cursor, "MATCH", glob_escape(impl_->prefix) + "*", "COUNT", "256"},
      deadline);
  const redisReply* reply = result.reply.get();
  if (result.io != Io::ok || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
    throw UnavailableError(
        impl_->entity_type, "*",
        "SCAN failed: " + (result.io != Io::ok ? result.error : std::string(text_of(reply))));
  }
  cursor.cursor = std::string(text_of(reply->element[0]));
  std::vector<std::string> keys;
  const redisReply* found = reply->element[1];
  for (std::size_t i = 0; i < found->elements; ++i) keys.emplace_back(text_of(found->element[i]));
  std::vector<Call> calls;
  calls.reserve(keys.size());
  for (const std::string& key : keys) calls.push_back(impl_->read_call(key));
  std::vector<CallResult> reads = impl_->router.call_many(calls, deadline);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    // An error reply (BUSY, a failover's refusal ...) is asked again once, alone; a key
    // that is not a hash (WRONGTYPE) is not ours. Anything else is reported, never
    // skipped: a record present for the whole scan is seen, or the scan fails.
    const auto wrong_type = [](const CallResult& read) {
      return is_error(read.reply.get()) && text_of(read.reply.get()).substr(0, 9) == "WRONGTYPE";
    };
    if (reads[i].io == Io::ok && is_error(reads[i].reply.get()) && !wrong_type(reads[i])) {
      reads[i] = impl_->router.call(calls[i], deadline);
    }
    if (reads[i].io == Io::ok && wrong_type(reads[i])) continue;
    if (reads[i].io != Io::ok || is_error(reads[i].reply.get())) {
      throw UnavailableError(impl_->entity_type, keys[i].substr(impl_->prefix.size()),
                             reads[i].io != Io::ok
                                 ? reads[i].error
                                 : "refused: " + std::string(text_of(reads[i].reply.get())));
    }
    ReadOutcome read = read_outcome(reads[i].reply.get());
    if (read.reached && read.record) {
      out.emplace_back(keys[i].substr(impl_->prefix.size()), std::move(*read.record));
    }
  }
  if (cursor.cursor == "0") {
    ++cursor.node;
    cursor.cursor = "0";
  }
  return cursor.node < cursor.masters.size();
}

}  // namespace vkv::redis::detail
