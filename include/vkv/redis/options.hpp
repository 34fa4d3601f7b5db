// vkv::redis::Options: where a Redis-backed store lives and how it talks to it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "vkv/options.hpp"

namespace vkv::redis {

struct Options {
  // --- Where ---

  // One server, or cluster seeds: "redis://[[user]:password@]host[:port]" (host: a
  // name, an IPv4 literal, or an IPv6 literal in brackets, "redis://[::1]:7000"; default
  // port 6379). With a password every connection sends AUTH [user] password first (the
  // first seed that names credentials gives them for every node). No TLS, no Sentinel
  // (docs/redis.md, "What is not there"). Malformed: std::invalid_argument from Store's
  // constructor.
  std::vector<std::string> nodes = {"redis://127.0.0.1:6379"};
  // Route by hash slot (CLUSTER SLOTS, MOVED, ASK). Commits must then name ids of one
  // hash slot: put a {tag} in them.
  bool cluster = false;
  // A record lives at "<key_prefix>:<entity_type>:<id>". Neither may hold '{' or '}'.
  std::string key_prefix = "vkv";
  std::string entity_type = "Record";

  // --- Behaviour ---

  // Optional. Called on the thread whose version check failed, before that call
  // returns, with no connection held and no lock taken.
  std::function<void(const ConflictEvent&)> on_conflict{};
  // Time to live of every write that names none (WriteOptions::ttl); zero = never.
  // soft_delete and restore keep the record's expiry.
  std::chrono::nanoseconds default_ttl{0};

  // --- Connections ---

  // Most connections open to one node (opened on demand); 0 =
  // std::thread::hardware_concurrency().
  std::size_t connections_per_node = 0;
  // Per connect, and per socket read or write (both cut to what is left of call_timeout).
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};
  // A pooled connection idle longer than this is closed and a new one opened instead of
  // reusing it (a NAT or firewall may have dropped it without a word). Must be positive
  // (std::invalid_argument otherwise).
  std::chrono::milliseconds max_idle{60000};
  // The most one public call may take, all of it: waiting for a pooled connection,
  // connects, slot-map refreshes, redirections, TRYAGAIN/CLUSTERDOWN backoff, and the
  // fences that resolve lost replies (docs/redis.md, "Deadlines"). A call that runs out
  // reports unavailable (nothing sent) or unknown_outcome (sent, outcome not learned).
  // for_each: per batch of its scan. Must be at least command_timeout
  // (std::invalid_argument otherwise). 5 s: a command timeout, then fences, with room.
  std::chrono::milliseconds call_timeout{5000};
  // Cluster slot map: no refresh starts within refresh_cooldown of the last one (callers
  // share its answer); one is due every refresh_period (run by the next call).
  std::chrono::milliseconds refresh_cooldown{100};
  std::chrono::milliseconds refresh_period{10000};

  // --- Durability (docs/redis.md, "Consistency") ---

  // 0 (the default): a write is acknowledged once its master ran it. n > 0: every write
  // (create, put, update, soft_delete, restore, erase, update_many, find_or_create's
  // create, commit) is followed, on the same connection and in the same round trip, by
  // `WAIT n wait_timeout`, and succeeds only if WAIT counts at least n replicas. If it
  // counts fewer, the write has applied on the master but a failover may lose it: it is
  // reported as UnknownOutcomeError / Errc::unknown_outcome (never as not applied); a
  // read tells whether it is there. std::invalid_argument from Store's constructor if
  // n < 0, or if n > 0 and wait_timeout is not in (0, command_timeout): WAIT 0 blocks
  // forever, and a WAIT longer than command_timeout would time the connection out.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{100};
};

}  // namespace vkv::redis
