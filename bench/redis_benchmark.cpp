// vkv::redis against the two ways people write a version-checked update by hand, on real
// servers on loopback that the benchmark starts itself (tests/support/redis): one
// redis-server, and a 3-master Redis Cluster (with replicas).
//
//   BM_<Who><Where>_UpdateWithVersion   Who: Vkv (redis::Store::update_with_version),
//                                       WatchMulti (WATCH; HMGET; MULTI/HSET/EXEC
//                                       pipelined, retried on a nil EXEC), LuaCas (EVALSHA of
//                                       a check-and-set script), PlainSet (SET: no check,
//                                       the floor). Where: Single or Cluster.
//   BM_Vkv<Where>_UpdateMany100         update_many of 100 writes (pipelined by the store)
//   BM_Vkv<Where>_Update100OneAtATime   the same 100 writes, one update_with_version each
//
// Every side: the same ids (16 per thread, a thread's own: no contention, so the figures are
// the mechanism's cost), 100-byte values, one connection per thread per node, and a fresh
// version (a random UUID) and revision per write where it claims to do versioned work.
// Peers store a record as a hash (v, ver, rev), vkv as its scripts do. The counter
// "goodput" is successful writes per second (summed over threads). In the cluster the
// peers route each key to its master from a slot table made once (no MOVED handling:
// the topology is fixed while they run); vkv routes as it always does.
//
// PlainHset is the hash peers' write alone (HSET v ver rev: no check), the floor for
// the server's work per write. With VKV_REDIS_BENCH_PORT=<port> in the environment the
// Single benchmarks use the redis-server already listening on 127.0.0.1:<port> and
// nothing is started (the Cluster ones skip): tools/redis-bench-pinned.sh starts that
// server pinned to one core, runs this binary pinned to another, and reads the
// server's INFO commandstats between benchmarks.
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>
#include <vkv/redis.hpp>
#include <vkv/redis/detail/keys.hpp>

#include "support/redis/admin.hpp"
#include "support/redis/cluster.hpp"
#include "support/redis/server.hpp"

namespace {

using vkv_test::redis::Admin;
using vkv_test::redis::RedisCluster;
using vkv_test::redis::RedisServer;
using vkv_test::redis::TempDir;

constexpr int kKeysPerThread = 16;
constexpr std::size_t kValueBytes = 100;
constexpr int kMaxThreads = 16;

// The servers, started from main() (their PR_SET_PDEATHSIG is bound to the thread that
// started them, and Google Benchmark's worker threads come and go).
struct Servers {
  TempDir dir{"vkv-redis-bench"};
  RedisServer single{dir.path() / "single"};
  RedisCluster cluster;
  std::map<int, int> slot_owner;  // first slot of a range -> master port
  Servers() {
    Admin admin("127.0.0.1", cluster.master_port_of_slot(0));
    for (const auto& range : admin.checked({"CLUSTER", "SLOTS"}).elements) {
      slot_owner[static_cast<int>(range.elements[0].integer)] =
          static_cast<int>(range.elements[2].elements[1].integer);
    }
  }
  int port_of_key(const std::string& key) const {
    const int slot = vkv::redis::detail::key_slot(key);
    return std::prev(slot_owner.upper_bound(slot))->second;
  }
};
Servers* servers = nullptr;
int external_port = 0;  // VKV_REDIS_BENCH_PORT: an outside server, nothing started

int single_port() { return external_port != 0 ? external_port : servers->single.port(); }

enum class Where { single, cluster };

vkv::redis::Store<std::string>& vkv_store(Where where) {
  static std::once_flag once[2];
  static std::unique_ptr<vkv::redis::Store<std::string>> stores[2];
  const int i = where == Where::single ? 0 : 1;
  std::call_once(once[i], [&] {
    vkv::redis::Options o;
    o.entity_type = "Bench";
    o.connections_per_node = kMaxThreads;
    if (where == Where::single) {
      o.nodes = {"redis://127.0.0.1:" + std::to_string(single_port())};
    } else {
      o.nodes = servers->cluster.seed_uris();
      o.cluster = true;
    }
    stores[i] = std::make_unique<vkv::redis::Store<std::string>>(std::move(o));
  });
  return *stores[i];
}

std::string id_of(int thread, int k) { return std::to_string(thread) + ":" + std::to_string(k); }
std::string value_of(std::uint64_t n) {
  std::string v = std::to_string(n);
  v.resize(kValueBytes, '.');
  return v;
}

// ---------------------------------------------------------------- vkv

// Cluster benchmarks need the started cluster: skipped against an outside server.
bool skip_without_cluster(benchmark::State& state, Where where) {
  if (where == Where::cluster && servers == nullptr) {
    state.SkipWithError("no cluster: VKV_REDIS_BENCH_PORT names one outside server");
    return true;
  }
  return false;
}

void vkv_update_with_version(benchmark::State& state, Where where) {
  if (skip_without_cluster(state, where)) return;
  auto& store = vkv_store(where);
  std::vector<std::string> ids;
  std::vector<vkv::Version> known;
  for (int k = 0; k < kKeysPerThread; ++k) {
    ids.push_back(id_of(state.thread_index(), k));
    known.push_back(store.put(ids.back(), value_of(0)).version);
  }
  std::uint64_t n = 0;
  for (auto _ : state) {
    const int k = static_cast<int>(n % kKeysPerThread);
    known[k] = store.update_with_version(ids[k], known[k], value_of(++n)).version;
  }
  state.counters["goodput"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}

void vkv_update_many(benchmark::State& state, Where where, bool batched) {
  using W = vkv::redis::Store<std::string>::VersionedWrite;
  if (skip_without_cluster(state, where)) return;
  auto& store = vkv_store(where);
  std::vector<W> writes;
  for (int k = 0; k < 100; ++k) {
    const std::string id = "m" + std::to_string(state.thread_index()) + ":" + std::to_string(k);
    writes.push_back(W{id, store.put(id, value_of(0)).version, value_of(0)});
  }
  std::uint64_t n = 0;
  for (auto _ : state) {
    if (batched) {
      const auto results = store.update_many(std::span<const W>(writes));
      for (std::size_t i = 0; i < writes.size(); ++i) {
        writes[i].expected = results[i].value().version;
        writes[i].value = value_of(++n);
      }
    } else {
      for (auto& w : writes) {
        w.expected = store.update_with_version(w.id, w.expected, w.value).version;
        w.value = value_of(++n);
      }
    }
  }
  state.counters["goodput"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------- peers (raw hiredis)

struct ReplyPtr {
  redisReply* r;
  ~ReplyPtr() {
    if (r) freeReplyObject(r);
  }
};

class Connections {  // one per node, this thread's own
 public:
  redisContext* to(int port) {
    auto& c = by_port_[port];
    if (!c) {
      c = redisConnect("127.0.0.1", port);
      if (c == nullptr || c->err) throw std::runtime_error("bench: cannot connect");
    }
    return c;
  }
  ~Connections() {
    for (auto& [port, c] : by_port_) redisFree(c);
  }

 private:
  std::map<int, redisContext*> by_port_;
};

redisReply* get(redisContext* c) {
  void* reply = nullptr;
  if (redisGetReply(c, &reply) != REDIS_OK) throw std::runtime_error("bench: connection lost");
  return static_cast<redisReply*>(reply);
}

constexpr const char* kCasScript =
    "if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[1] then return 0 end "
    "redis.call('HSET', KEYS[1], 'v', ARGV[2], 'ver', ARGV[3], 'rev', ARGV[4]) return 1";

enum class Peer { watch_multi, lua_cas, plain_set, plain_hset };

void peer_update(benchmark::State& state, Where where, Peer peer) {
  if (skip_without_cluster(state, where)) return;
  Connections conns;
  boost::uuids::random_generator uuids;
  std::vector<std::string> keys, known;
  std::vector<int> ports;
  std::vector<std::uint64_t> revs(kKeysPerThread, 1);
  std::string sha;
  for (int k = 0; k < kKeysPerThread; ++k) {
    // Plain SET makes its keys strings: its own names, so the hash peers never meet them.
    keys.push_back((peer == Peer::plain_set ? "vkv:Set:" : "vkv:Peer:") +
                   id_of(state.thread_index(), k));
    ports.push_back(where == Where::single ? single_port() : servers->port_of_key(keys.back()));
    known.push_back(boost::uuids::to_string(uuids()));
    redisContext* c = conns.to(ports.back());
    // Plain SET's keys are strings; the others' hashes (v, ver, rev).
    ReplyPtr r{static_cast<redisReply*>(
        peer == Peer::plain_set
            ? redisCommand(c, "SET %s %s", keys.back().c_str(), value_of(0).c_str())
            : redisCommand(c, "HSET %s v %s ver %s rev 1", keys.back().c_str(), value_of(0).c_str(),
                           known.back().c_str()))};
    if (r.r == nullptr || r.r->type == REDIS_REPLY_ERROR) {
      state.SkipWithError("the peer's setup write failed");
      return;
    }
    if (peer == Peer::lua_cas) {
      ReplyPtr s{static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", kCasScript))};
      sha.assign(s.r->str, s.r->len);
    }
  }
  std::uint64_t n = 0, retries = 0;
  for (auto _ : state) {
    const int k = static_cast<int>(n % kKeysPerThread);
    const std::string value = value_of(++n);
    redisContext* c = conns.to(ports[k]);
    const char* key = keys[k].c_str();
    if (peer == Peer::plain_set) {
      ReplyPtr r{static_cast<redisReply*>(redisCommand(c, "SET %s %s", key, value.c_str()))};
      continue;
    }
    const std::string fresh = boost::uuids::to_string(uuids());
    const std::string rev = std::to_string(revs[k] + 1);
    if (peer == Peer::plain_hset) {  // the write alone: what any versioned update must send
      ReplyPtr r{static_cast<redisReply*>(redisCommand(c, "HSET %s v %s ver %s rev %s", key,
                                                       value.c_str(), fresh.c_str(), rev.c_str()))};
      if (r.r == nullptr || r.r->type == REDIS_REPLY_ERROR) {
        state.SkipWithError("plain HSET failed");
        break;
      }
      known[k] = fresh;
      revs[k] += 1;
      continue;
    }
    if (peer == Peer::lua_cas) {
      ReplyPtr r{static_cast<redisReply*>(redisCommand(c, "EVALSHA %s 1 %s %s %s %s %s",
                                                       sha.c_str(), key, known[k].c_str(),
                                                       value.c_str(), fresh.c_str(), rev.c_str()))};
      if (r.r == nullptr || r.r->type != REDIS_REPLY_INTEGER || r.r->integer != 1) {
        state.SkipWithError("Lua CAS refused an uncontended write");
        break;
      }
    } else {
      for (;;) {  // the hand-written optimistic loop: WATCH, read, check, MULTI ... EXEC
        ReplyPtr w{static_cast<redisReply*>(redisCommand(c, "WATCH %s", key))};
        ReplyPtr got{static_cast<redisReply*>(redisCommand(c, "HMGET %s ver rev", key))};
        if (got.r == nullptr || got.r->type != REDIS_REPLY_ARRAY || got.r->elements != 2 ||
            got.r->element[0]->type != REDIS_REPLY_STRING || known[k] != got.r->element[0]->str) {
          ReplyPtr u{static_cast<redisReply*>(redisCommand(c, "UNWATCH"))};
          state.SkipWithError("WATCH/MULTI saw a foreign version on an uncontended key");
          break;
        }
        redisAppendCommand(c, "MULTI");
        redisAppendCommand(c, "HSET %s v %s ver %s rev %s", key, value.c_str(), fresh.c_str(),
                           rev.c_str());
        redisAppendCommand(c, "EXEC");
        ReplyPtr m{get(c)}, h{get(c)}, e{get(c)};
        if (e.r != nullptr && e.r->type == REDIS_REPLY_ARRAY) break;
        ++retries;  // EXEC answered nil: someone wrote the key since WATCH
      }
    }
    known[k] = fresh;
    revs[k] += 1;
  }
  state.counters["goodput"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  state.counters["retries"] = static_cast<double>(retries);
}

// ---------------------------------------------------------------- registration

// Registered from main(), in this order: single server, then cluster; vkv first, then
// each hand-written peer (no plain HSET on the cluster).
void register_all() {
  const auto add = [](const std::string& name, auto body) {
    benchmark::RegisterBenchmark(name.c_str(), body)->ThreadRange(1, kMaxThreads)->UseRealTime();
  };
  const std::pair<Peer, const char*> peers[] = {{Peer::watch_multi, "WatchMulti"},
                                                {Peer::lua_cas, "LuaCas"},
                                                {Peer::plain_set, "PlainSet"},
                                                {Peer::plain_hset, "PlainHset"}};
  for (const auto& [where, at] :
       {std::pair{Where::single, "Single"}, {Where::cluster, "Cluster"}}) {
    add(std::string("BM_Vkv") + at + "_UpdateWithVersion",
        [where = where](benchmark::State& s) { vkv_update_with_version(s, where); });
    for (const auto& [peer, name] : peers) {
      if (where == Where::cluster && peer == Peer::plain_hset) continue;
      add(std::string("BM_") + name + at + "_UpdateWithVersion",
          [where = where, peer = peer](benchmark::State& s) { peer_update(s, where, peer); });
    }
  }
  for (const auto& [where, at] :
       {std::pair{Where::single, "Single"}, {Where::cluster, "Cluster"}}) {
    for (const auto& [batch, name] :
         {std::pair{true, "_UpdateMany100"}, {false, "_Update100OneAtATime"}}) {
      benchmark::RegisterBenchmark(
          (std::string("BM_Vkv") + at + name).c_str(),
          [where = where, batch = batch](benchmark::State& s) { vkv_update_many(s, where, batch); })
          ->Threads(1)
          ->Threads(4)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  if (const char* port = std::getenv("VKV_REDIS_BENCH_PORT"); port != nullptr && *port != 0) {
    external_port = std::atoi(port);
    if (external_port <= 0 || external_port > 65535) {
      std::fprintf(stderr, "redis_benchmark: VKV_REDIS_BENCH_PORT '%s' is not a port\n", port);
      return 2;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  }
  Servers started;  // killed by pid when main returns
  servers = &started;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  servers = nullptr;
  return 0;
}
