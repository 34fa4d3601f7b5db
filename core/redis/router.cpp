// Routing commands to nodes: the slot map, redirections, retryable refusals.
#include "router.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <map>
#include <thread>

#include "replies.hpp"

namespace vkv::redis::detail {

namespace {

constexpr int kMaxHops = 16;       // redirections and reconnections per call
constexpr int kMaxRetryLater = 8;  // TRYAGAIN / CLUSTERDOWN / LOADING rounds
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(2);

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381".
bool parse_redirect(std::string_view text, Address& target) {
  const std::size_t space = text.rfind(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view address = text.substr(space + 1);
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  int port = 0;
  const std::string_view digits = address.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  target.host = std::string(address.substr(0, colon));
  target.port = port;
  return !target.host.empty();
}

Args wait_args(const WaitFor& wait) {
  return Args{"WAIT", std::to_string(wait.replicas), std::to_string(wait.timeout.count())};
}

// WAIT answers an integer; anything else (an error reply) counts as no replica.
long long replicas_of(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
}

}  // namespace

Router::Router(std::vector<Address> seeds, bool cluster, Timeouts timeouts, std::size_t per_node)
    : seeds_(std::move(seeds)), cluster_(cluster), timeouts_(timeouts), per_node_(per_node) {
  owner_.fill(kNoOwner);
  if (!cluster_) {
    pools_.push_back(std::make_unique<NodePool>(seeds_.front(), timeouts_, per_node_));
    owner_.fill(0);
    mapped_ = true;
  }
}

NodePool* Router::pool_locked(const Address& address) {
  for (const auto& pool : pools_) {
    if (pool->address() == address) return pool.get();
  }
  pools_.push_back(std::make_unique<NodePool>(address, timeouts_, per_node_));
  return pools_.back().get();
}

NodePool* Router::pool_for(const Address& address) {
  {
    std::shared_lock lock(map_mutex_);
    for (const auto& pool : pools_) {
      if (pool->address() == address) return pool.get();
    }
  }
  std::unique_lock lock(map_mutex_);
  return pool_locked(address);
}

void Router::set_owner(std::uint16_t slot, const Address& address) {
  std::unique_lock lock(map_mutex_);
  NodePool* pool = pool_locked(address);
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (pools_[i].get() == pool) owner_[slot] = static_cast<std::uint16_t>(i);
  }
}

NodePool* Router::owner(std::uint16_t slot) {
  {
    std::shared_lock lock(map_mutex_);
    if (mapped_ && owner_[slot] != kNoOwner) return pools_[owner_[slot]].get();
  }
  std::string error;
  if (!refresh(error)) return nullptr;
  std::shared_lock lock(map_mutex_);
  return owner_[slot] != kNoOwner ? pools_[owner_[slot]].get() : nullptr;
}

bool Router::refresh(std::string& error) {
  if (!cluster_) return true;
  std::lock_guard serial(refresh_mutex_);
  std::vector<Address> candidates;
  {
    std::shared_lock lock(map_mutex_);
    for (const auto& pool : pools_) candidates.push_back(pool->address());
  }
  for (const Address& seed : seeds_) {
    if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) {
      candidates.insert(candidates.begin(), seed);
    }
  }
  error = "no cluster node answered CLUSTER SLOTS";
  for (const Address& candidate : candidates) {
    CallResult result = call_node(*pool_for(candidate), Args{"CLUSTER", "SLOTS"});
    if (result.io != Io::ok) {
      error = result.error;
      continue;
    }
    const redisReply* reply = result.reply.get();
    if (reply->type != REDIS_REPLY_ARRAY) {
      error = "CLUSTER SLOTS: " + std::string(text_of(reply));
      continue;
    }
    std::vector<std::pair<std::pair<long long, long long>, Address>> ranges;
    for (std::size_t i = 0; i < reply->elements; ++i) {
      const redisReply* range = reply->element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
      const redisReply* master = range->element[2];
      if (master->type != REDIS_REPLY_ARRAY || master->elements < 2) continue;
      Address address;
      address.host = std::string(text_of(master->element[0]));
      if (address.host.empty() || address.host == "?") address.host = candidate.host;
      address.port = static_cast<int>(master->element[1]->integer);
      ranges.push_back({{range->element[0]->integer, range->element[1]->integer}, address});
    }
    std::unique_lock lock(map_mutex_);
    owner_.fill(kNoOwner);
    for (const auto& [span, address] : ranges) {
      NodePool* pool = pool_locked(address);
      std::uint16_t index = 0;
      while (pools_[index].get() != pool) ++index;
      for (long long slot = std::max(0LL, span.first); slot <= std::min(16383LL, span.second);
           ++slot) {
        owner_[static_cast<std::size_t>(slot)] = index;
      }
    }
    mapped_ = true;
    return true;
  }
  return false;
}

std::vector<NodePool*> Router::masters() {
  if (cluster_) {
    std::string error;
    refresh(error);
  }
  std::shared_lock lock(map_mutex_);
  std::vector<NodePool*> result;
  for (std::uint16_t index : owner_) {
    if (index == kNoOwner) continue;
    NodePool* pool = pools_[index].get();
    if (std::find(result.begin(), result.end(), pool) == result.end()) result.push_back(pool);
  }
  return result;
}

CallResult Router::call_node(NodePool& node, const Args& args) {
  CallResult result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Lease lease = node.acquire(result.error);
    if (!lease) {
      result.io = Io::not_sent;
      return result;
    }
    std::vector<ReplyPtr> replies;
    result.io = lease->exchange(std::span<const Args>(&args, 1), replies, result.error);
    result.reused = lease.reused();
    if (result.io == Io::not_sent && lease.reused()) continue;  // stale: once more, fresh
    if (result.io == Io::ok) result.reply = std::move(replies.front());
    return result;
  }
  return result;
}

Router::Next Router::classify(const redisReply* reply, const Call& call, Address& target) const {
  if (!is_error(reply)) return Next::done;
  const std::string_view text = text_of(reply);
  if (cluster_ && starts_with(text, "MOVED ") && parse_redirect(text, target)) return Next::moved;
  if (cluster_ && starts_with(text, "ASK ") && parse_redirect(text, target)) return Next::ask;
  if (starts_with(text, "TRYAGAIN") || starts_with(text, "CLUSTERDOWN") ||
      starts_with(text, "LOADING") || starts_with(text, "MASTERDOWN")) {
    return Next::retry_later;
  }
  if (call.script != nullptr && starts_with(text, "NOSCRIPT")) return Next::noscript;
  if (cluster_ && starts_with(text, "READONLY")) return Next::refresh;  // a demoted master
  return Next::done;
}

CallResult Router::call(const Call& call) {
  CallResult result;
  Args args = call.args;
  NodePool* node = owner(call.slot);
  bool asking = false;
  bool refreshed = false;
  int later = 0;
  for (int hop = 0; hop < kMaxHops; ++hop) {
    if (node == nullptr) {
      result.io = Io::not_sent;
      result.error = "no node serves hash slot " + std::to_string(call.slot);
      return result;
    }
    Lease lease = node->acquire(result.error);
    if (!lease) {
      result.io = Io::not_sent;
      // A master may have failed over: look again, once.
      if (cluster_ && !refreshed) {
        refreshed = true;
        std::string error;
        if (refresh(error)) {
          node = owner(call.slot);
          continue;
        }
      }
      return result;
    }
    std::vector<Args> commands;
    if (asking) commands.push_back(Args{"ASKING"});
    commands.push_back(args);
    const std::size_t at = commands.size() - 1;
    if (call.wait.replicas > 0) commands.push_back(wait_args(call.wait));
    std::vector<ReplyPtr> replies;
    result.io = lease->exchange(commands, replies, result.error);
    result.reused = lease.reused();
    if (result.io == Io::not_sent && lease.reused()) continue;  // stale: nothing ran
    if (result.io != Io::ok) return result;
    result.reply = std::move(replies[at]);
    if (call.wait.replicas > 0) result.replicas = replicas_of(replies.back().get());
    // Give the connection back before anything below takes another (a refresh may
    // need this very node, and its pool may hold a single connection).
    lease = Lease();
    Address target;
    switch (classify(result.reply.get(), call, target)) {
      case Next::done:
        return result;
      case Next::moved:
        set_owner(call.slot, target);
        node = pool_for(target);
        asking = false;
        break;
      case Next::ask:
        node = pool_for(target);
        asking = true;
        break;
      case Next::noscript:
        args[0] = "EVAL";
        args[1] = call.script->body;
        break;  // same node, same ASKING state
      case Next::refresh: {
        std::string error;
        refresh(error);
        node = owner(call.slot);
        asking = false;
        break;
      }
      case Next::retry_later:
        if (++later > kMaxRetryLater) {
          // The command was refused before it ran: nothing was applied.
          result.io = Io::not_sent;
          result.error = "the cluster kept refusing: " + std::string(text_of(result.reply.get()));
          result.reply.reset();
          return result;
        }
        std::this_thread::sleep_for(kFirstRetryDelay * (1 << std::min(later, 6)));
        if (cluster_) {
          std::string error;
          refresh(error);
          node = owner(call.slot);
        }
        asking = false;
        break;
    }
  }
  result.io = Io::not_sent;
  result.reply.reset();
  result.error = "too many redirections for hash slot " + std::to_string(call.slot);
  return result;
}

std::vector<CallResult> Router::call_many(std::span<const Call> calls) {
  std::vector<CallResult> results(calls.size());
  std::map<NodePool*, std::vector<std::size_t>> groups;
  std::vector<std::size_t> alone;  // run through call(): no node known yet
  for (std::size_t i = 0; i < calls.size(); ++i) {
    NodePool* node = owner(calls[i].slot);
    if (node == nullptr) {
      alone.push_back(i);
    } else {
      groups[node].push_back(i);
    }
  }
  for (auto& [node, indexes] : groups) {
    std::string error;
    Lease lease = node->acquire(error);
    if (!lease) {
      for (std::size_t i : indexes) {
        results[i].io = Io::not_sent;
        results[i].error = error;
      }
      if (cluster_) alone.insert(alone.end(), indexes.begin(), indexes.end());
      continue;
    }
    std::vector<Args> commands;
    commands.reserve(indexes.size() + 1);
    WaitFor wait;  // one WAIT covers every write before it on this connection
    for (std::size_t i : indexes) {
      commands.push_back(calls[i].args);
      wait.replicas = std::max(wait.replicas, calls[i].wait.replicas);
      wait.timeout = std::max(wait.timeout, calls[i].wait.timeout);
    }
    if (wait.replicas > 0) commands.push_back(wait_args(wait));
    std::vector<ReplyPtr> replies;
    const Io io = lease->exchange(commands, replies, error);
    // An exchange answers all its replies or is not ok: then WAIT's reply is last.
    const long long replicas =
        wait.replicas > 0 && io == Io::ok ? replicas_of(replies.back().get()) : -1;
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      CallResult& result = results[indexes[k]];
      result.reused = lease.reused();
      if (k < replies.size() && (io == Io::ok || wait.replicas == 0)) {
        result.io = Io::ok;
        result.replicas = replicas;
        result.reply = std::move(replies[k]);
        Address target;
        if (classify(result.reply.get(), calls[indexes[k]], target) != Next::done) {
          alone.push_back(indexes[k]);  // refused before it ran: again, alone
        }
      } else {
        result.io = io;
        result.error = error;
        if (io == Io::not_sent) alone.push_back(indexes[k]);  // nothing ran: again, alone
      }
    }
  }
  for (std::size_t i : alone) results[i] = call(calls[i]);
  return results;
}

}  // namespace vkv::redis::detail
