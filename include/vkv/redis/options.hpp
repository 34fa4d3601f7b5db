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

  // One server, or cluster seeds: "redis://host[:port]" (host: an IPv4 literal or a
  // name; default port 6379). Malformed: std::invalid_argument from Store's constructor.
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
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};

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
