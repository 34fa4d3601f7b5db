// Routing commands to nodes: the slot map, shared refreshes, redirections, retryable
// refusals, all within each call's deadline.
#include "router.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "replies.hpp"

namespace vkv::redis::detail {

namespace {

constexpr int kMaxHops = 16;  // redirections and reconnections per call
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(2);
constexpr auto kMaxRetryDelay = std::chrono::milliseconds(200);

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::int64_t to_ns(Clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}

Args wait_args(const WaitFor& wait) {
  return Args{"WAIT", std::to_string(wait.replicas), std::to_string(wait.timeout.count())};
}

// WAIT answers an integer; anything else (an error reply) counts as no replica.
long long replicas_of(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
}

// The command as sent: a script call by digest, or by body (with SCRIPT LOAD first, to
// learn the digest) until its digest is known. Returns whether SCRIPT LOAD was put first.
bool append_command(const Call& call, const Args& args, std::vector<Args>& commands) {
  if (call.script == nullptr) {
    commands.push_back(args);
    return false;
  }
  std::string sha = args[0] == "EVAL" ? std::string() : call.script->sha();
  const bool load = sha.empty() && args[0] != "EVAL";
  if (load) commands.push_back(Args{"SCRIPT", "LOAD", call.script->body});
  commands.push_back(args);
  Args& sent = commands.back();
  if (sha.empty()) {
    sent[0] = "EVAL";
    sent[1] = call.script->body;
  } else {
    sent[0] = "EVALSHA";
    sent[1] = std::move(sha);
  }
  return load;
}

void learn_digest(const Call& call, const redisReply* reply) {
  if (reply != nullptr && reply->type == REDIS_REPLY_STRING) call.script->learn(text_of(reply));
}

}  // namespace

Router::Router(std::vector<Address> seeds, bool cluster, const NodeSettings& settings,
               std::size_t per_node, RefreshPolicy policy)
    : seeds_(std::move(seeds)),
      cluster_(cluster),
      settings_(settings),
      per_node_(per_node),
      policy_(policy) {
  owner_.fill(kNoOwner);
  if (!cluster_) {
    pools_.push_back(std::make_unique<NodePool>(seeds_.front(), settings_, per_node_));
    owner_.fill(0);
    mapped_ = true;
  }
}

std::uint64_t Router::refresh_sweeps() const noexcept {
  return sweeps_.load(std::memory_order_relaxed);  // relaxed: a statistic
}

NodePool* Router::pool_locked(const Address& address) {
  for (const auto& pool : pools_) {
    if (pool->address() == address) return pool.get();
  }
  pools_.push_back(std::make_unique<NodePool>(address, settings_, per_node_));
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

NodePool* Router::owner(std::uint16_t slot, Deadline deadline) {
  if (cluster_) {
    // relaxed: a due time; a late or early look costs one refresh more or less.
    const std::int64_t due = due_ns_.load(std::memory_order_relaxed);
    if (due != 0 && to_ns(Clock::now()) >= due) {
      std::string error;
      refresh(deadline, error, /*join=*/false);  // periodic, or after a MOVED
    }
  }
  {
    std::shared_lock lock(map_mutex_);
    if (mapped_ && owner_[slot] != kNoOwner) return pools_[owner_[slot]].get();
  }
  std::string error;
  if (!refresh(deadline, error)) return nullptr;
  std::shared_lock lock(map_mutex_);
  return owner_[slot] != kNoOwner ? pools_[owner_[slot]].get() : nullptr;
}

void Router::refresh_soon() noexcept {
  std::int64_t soon = 0;
  {
    std::lock_guard lock(refresh_mutex_);
    soon = to_ns(last_end_ + policy_.cooldown);
  }
  // relaxed: see owner(). Only ever brought forward here.
  std::int64_t due = due_ns_.load(std::memory_order_relaxed);
  while (due > soon && !due_ns_.compare_exchange_weak(due, soon, std::memory_order_relaxed)) {
  }
}

bool Router::refresh(Deadline deadline, std::string& error, bool join,
                     Clock::time_point failed_since) {
  if (!cluster_) return true;
  std::unique_lock lock(refresh_mutex_);
  if (refreshing_ && !join) return true;  // one is under way; go on with the map as is
  // Share the sweep in flight: wait for its result (or the caller's deadline).
  const auto join_sweep = [&] {
    const std::uint64_t generation = generation_;
    if (!refreshed_.wait_until(lock, deadline.at,
                               [&] { return !refreshing_ || generation_ != generation; })) {
      error = "call deadline passed waiting for the slot-map refresh";
      return false;
    }
    error = last_error_;
    return last_ok_;
  };
  if (refreshing_) return join_sweep();
  for (;;) {
    const Clock::time_point cool = last_end_ + policy_.cooldown;
    if (generation_ == 0 || Clock::now() >= cool) break;
    if (last_start_ >= failed_since || cool >= deadline.at) {
      error = last_error_;  // refreshed a moment ago: that answer stands
      return last_ok_;
    }
    // That sweep began before the caller's node was found failing: wait out the
    // cooldown (woken early when another caller's sweep ends), then refresh.
    refreshed_.wait_until(lock, cool);
    if (refreshing_) return join_sweep();
  }
  refreshing_ = true;
  const Clock::time_point started = Clock::now();
  sweeps_.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
  lock.unlock();
  std::string why;
  bool ok = false;
  try {
    ok = sweep(deadline, why);
  } catch (...) {  // std::bad_alloc: let the waiters go, then report it
    lock.lock();
    refreshing_ = false;
    ++generation_;
    refreshed_.notify_all();
    throw;
  }
  lock.lock();
  refreshing_ = false;
  ++generation_;
  last_start_ = started;
  last_ok_ = ok;
  last_error_ = why;
  last_end_ = Clock::now();
  // relaxed: see owner().
  due_ns_.store(to_ns(last_end_ + (ok ? policy_.period : policy_.cooldown)),
                std::memory_order_relaxed);
  refreshed_.notify_all();
  error = why;
  return ok;
}

bool Router::sweep(Deadline deadline, std::string& error) {
  std::vector<NodePool*> candidates;
  for (const Address& seed : seeds_) candidates.push_back(pool_for(seed));
  {
    std::shared_lock lock(map_mutex_);
    for (const auto& pool : pools_) {
      if (std::find(candidates.begin(), candidates.end(), pool.get()) == candidates.end()) {
        candidates.push_back(pool.get());
      }
    }
  }
  // Nodes whose last connect failed are asked last.
  std::stable_partition(candidates.begin(), candidates.end(),
                        [](NodePool* pool) { return !pool->failing(); });
  error = "no cluster node answered CLUSTER SLOTS";
  for (NodePool* candidate : candidates) {
    if (deadline.passed()) {
      error = "call deadline passed during the slot-map refresh (" + error + ")";
      return false;
    }
    CallResult result = call_node(*candidate, Args{"CLUSTER", "SLOTS"}, deadline);
    if (result.io != Io::ok) {
      candidate->mark_failed();  // asked last next time
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
      if (address.host.empty() || address.host == "?") address.host = candidate->address().host;
      address.port = static_cast<int>(master->element[1]->integer);
      ranges.push_back({{range->element[0]->integer, range->element[1]->integer}, address});
    }
    std::vector<NodePool*> departed;
    {
      std::unique_lock lock(map_mutex_);
      owner_.fill(kNoOwner);
      std::vector<bool> serving(pools_.size() + ranges.size(), false);
      for (const auto& [span, address] : ranges) {
        NodePool* pool = pool_locked(address);
        std::uint16_t index = 0;
        while (pools_[index].get() != pool) ++index;
        if (index >= serving.size()) serving.resize(index + 1, false);
        serving[index] = true;
        for (long long slot = std::max(0LL, span.first); slot <= std::min(16383LL, span.second);
             ++slot) {
          owner_[static_cast<std::size_t>(slot)] = index;
        }
      }
      mapped_ = true;
      for (std::size_t i = 0; i < pools_.size(); ++i) {
        const bool seed =
            std::find(seeds_.begin(), seeds_.end(), pools_[i]->address()) != seeds_.end();
        if ((i >= serving.size() || !serving[i]) && !seed) departed.push_back(pools_[i].get());
      }
    }
    for (NodePool* pool : departed) pool->retire();  // it serves no slot now
    return true;
  }
  return false;
}

std::vector<NodePool*> Router::masters(Deadline deadline) {
  if (cluster_) {
    std::string error;
    refresh(deadline, error);
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

CallResult Router::call_node(NodePool& node, const Args& args, Deadline deadline) {
  CallResult result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Lease lease = node.acquire(result.error, deadline);
    if (!lease) {
      result.io = Io::not_sent;
      return result;
    }
    std::vector<ReplyPtr> replies;
    result.io = lease->exchange(std::span<const Args>(&args, 1), replies, result.error, deadline);
    result.reused = lease.reused();
    if (result.io == Io::not_sent && lease.reused()) continue;  // stale: once more, fresh
    if (result.io == Io::ok) result.reply = std::move(replies.front());
    return result;
  }
  return result;
}

Router::Next Router::classify(const redisReply* reply, const Call& call, const Address& from,
                              Address& target) const {
  if (!is_error(reply)) return Next::done;
  const std::string_view text = text_of(reply);
  if (cluster_ && starts_with(text, "MOVED ") && parse_redirect(text, from, target)) {
    return Next::moved;
  }
  if (cluster_ && starts_with(text, "ASK ") && parse_redirect(text, from, target)) {
    return Next::ask;
  }
  if (starts_with(text, "TRYAGAIN") || starts_with(text, "CLUSTERDOWN") ||
      starts_with(text, "LOADING") || starts_with(text, "MASTERDOWN")) {
    return Next::retry_later;
  }
  if (call.script != nullptr && starts_with(text, "NOSCRIPT")) return Next::noscript;
  if (cluster_ && starts_with(text, "READONLY")) return Next::refresh;  // a demoted master
  return Next::done;
}

CallResult Router::call(const Call& call, Deadline deadline) {
  CallResult result;
  Args args = call.args;
  if (call.script != nullptr && args.size() >= 2) args[0] = "EVALSHA";  // filled when sent
  NodePool* node = owner(call.slot, deadline);
  bool asking = false;
  bool refreshed = false;
  bool resent = false;  // an idempotent call's one resend after a lost reply
  bool fresh = false;   // the next connection must be a new one
  int later = 0;
  for (int hop = 0; hop < kMaxHops;) {
    if (node == nullptr) {
      result.io = Io::not_sent;
      result.error = "no node serves hash slot " + std::to_string(call.slot);
      return result;
    }
    Lease lease = node->acquire(result.error, deadline, fresh);
    fresh = false;
    if (!lease) {
      result.io = Io::not_sent;
      // A master may have failed over: look again, once (shared with other callers; not
      // the answer of a sweep that started before this node was found failing).
      if (cluster_ && !refreshed && !deadline.passed()) {
        refreshed = true;
        std::string error;
        if (refresh(deadline, error, true, node->failing_since())) {
          NodePool* again = owner(call.slot, deadline);
          if (again != node) {
            node = again;
            ++hop;
            continue;
          }
        }
      }
      return result;
    }
    std::vector<Args> commands;
    if (asking) commands.push_back(Args{"ASKING"});
    const bool load = append_command(call, args, commands);
    const std::size_t at = commands.size() - 1;
    if (call.wait.replicas > 0) commands.push_back(wait_args(call.wait));
    std::vector<ReplyPtr> replies;
    result.io = lease->exchange(commands, replies, result.error, deadline);
    result.reused = lease.reused();
    if (result.io == Io::not_sent && lease.reused() && !deadline.passed()) {
      ++hop;
      continue;  // stale: nothing ran
    }
    if (result.io == Io::sent_no_reply && call.idempotent && !resent && !deadline.passed()) {
      resent = true;  // a read: ask again, once, on a new connection
      fresh = true;
      ++hop;
      continue;
    }
    if (result.io != Io::ok) return result;
    if (load) learn_digest(call, replies[at - 1].get());
    result.reply = std::move(replies[at]);
    if (call.wait.replicas > 0) result.replicas = replicas_of(replies.back().get());
    // Give the connection back before anything below takes another (a refresh may
    // need this very node, and its pool may hold a single connection).
    lease = Lease();
    Address target;
    switch (classify(result.reply.get(), call, node->address(), target)) {
      case Next::done:
        return result;
      case Next::moved:
        set_owner(call.slot, target);
        refresh_soon();  // the map moved: reload all of it on the next call
        node = pool_for(target);
        asking = false;
        ++hop;
        break;
      case Next::ask:
        node = pool_for(target);
        asking = true;
        ++hop;
        break;
      case Next::noscript:
        args[0] = "EVAL";  // same node, same ASKING state
        ++hop;
        break;
      case Next::refresh: {
        std::string error;
        refresh(deadline, error, true, Clock::now());  // a map from before this reply is stale
        node = owner(call.slot, deadline);
        asking = false;
        ++hop;
        break;
      }
      case Next::retry_later: {
        // Refused before it ran: nothing applied. Back off and retry until the deadline
        // (a failover takes seconds); the hop budget is for redirections only.
        const auto delay = std::min(kMaxRetryDelay, kFirstRetryDelay * (1 << std::min(++later, 7)));
        if (Clock::now() + delay >= deadline.at) {
          result.io = Io::not_sent;
          result.error = "the cluster kept refusing until the call deadline: " +
                         std::string(text_of(result.reply.get()));
          result.reply.reset();
          return result;
        }
        std::this_thread::sleep_for(delay);
        if (cluster_) {
          std::string error;
          refresh(deadline, error);
          node = owner(call.slot, deadline);
        }
        asking = false;
        break;
      }
    }
  }
  result.io = Io::not_sent;
  result.reply.reset();
  result.error = "too many redirections for hash slot " + std::to_string(call.slot);
  return result;
}

std::vector<CallResult> Router::call_many(std::span<const Call> calls, Deadline deadline) {
  std::vector<CallResult> results(calls.size());
  std::map<NodePool*, std::vector<std::size_t>> groups;
  std::vector<std::size_t> alone;  // run through call(): no node known yet
  for (std::size_t i = 0; i < calls.size(); ++i) {
    NodePool* node = owner(calls[i].slot, deadline);
    if (node == nullptr) {
      alone.push_back(i);
    } else {
      groups[node].push_back(i);
    }
  }
  for (auto& [node, indexes] : groups) {
    std::string error;
    Lease lease = node->acquire(error, deadline);
    if (!lease) {
      for (std::size_t i : indexes) {
        results[i].io = Io::not_sent;
        results[i].error = error;
      }
      if (cluster_ && !deadline.passed()) alone.insert(alone.end(), indexes.begin(), indexes.end());
      continue;
    }
    std::vector<Args> commands;
    commands.reserve(indexes.size() + 2);
    std::vector<std::size_t> at;     // where each call's reply is
    std::vector<std::size_t> loads;  // (call index) SCRIPT LOAD put before it
    at.reserve(indexes.size());
    WaitFor wait;  // one WAIT covers every write before it on this connection
    for (std::size_t i : indexes) {
      Args args = calls[i].args;
      if (calls[i].script != nullptr && args.size() >= 2) args[0] = "EVALSHA";
      // One SCRIPT LOAD per script per pipeline at most: after it, the digest is unknown
      // still (learned from the reply), so later calls go as EVAL.
      bool loaded_here = false;
      for (std::size_t k : loads) loaded_here = loaded_here || calls[k].script == calls[i].script;
      if (loaded_here) args[0] = "EVAL";
      if (append_command(calls[i], args, commands)) loads.push_back(i);
      at.push_back(commands.size() - 1);
      wait.replicas = std::max(wait.replicas, calls[i].wait.replicas);
      wait.timeout = std::max(wait.timeout, calls[i].wait.timeout);
    }
    if (wait.replicas > 0) commands.push_back(wait_args(wait));
    std::vector<ReplyPtr> replies;
    const Io io = lease->exchange(commands, replies, error, deadline);
    // An exchange answers all its replies or is not ok: then WAIT's reply is last.
    const long long replicas =
        wait.replicas > 0 && io == Io::ok ? replicas_of(replies.back().get()) : -1;
    if (io == Io::ok) {
      for (std::size_t k = 0; k < indexes.size(); ++k) {
        if (std::find(loads.begin(), loads.end(), indexes[k]) != loads.end()) {
          learn_digest(calls[indexes[k]], replies[at[k] - 1].get());
        }
      }
    }
    for (std::size_t k = 0; k < indexes.size(); ++k) {
      CallResult& result = results[indexes[k]];
      result.reused = lease.reused();
      if (at[k] < replies.size() && (io == Io::ok || wait.replicas == 0)) {
        result.io = Io::ok;
        result.replicas = replicas;
        result.reply = std::move(replies[at[k]]);
        Address target;
        if (classify(result.reply.get(), calls[indexes[k]], node->address(), target) !=
            Next::done) {
          alone.push_back(indexes[k]);  // refused before it ran: again, alone
        }
      } else {
        result.io = io;
        result.error = error;
        if (io == Io::not_sent && !deadline.passed()) {
          alone.push_back(indexes[k]);  // nothing ran: again, alone
        }
      }
    }
  }
  for (std::size_t i : alone) {
    if (deadline.passed() && results[i].io != Io::ok && !results[i].error.empty()) continue;
    results[i] = call(calls[i], deadline);
  }
  return results;
}

}  // namespace vkv::redis::detail
