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
};

}  // namespace vkv::redis
