// vkv-lab race --redis: the lost-update race between two processes (see redis_lab.hpp).
#include <hiredis/hiredis.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vkv/redis.hpp>
#include <vkv/redis/detail/keys.hpp>

#include "race.hpp"
#include "redis_lab.hpp"
#include "redis_lock.hpp"

namespace vkv::lab {

namespace {

// Two workers meet here every round, across the fork: an atomic counter in shared memory.
struct SharedBarrier {
  std::atomic<int> arrived{0};
  // Each worker arrives twice a round (after its read, and at the round's end), so the
  // n-th arrival of both is reached when the counter hits 2 * n.
  void arrive_and_wait(int nth) {
    // acq_rel / acquire: the count is the only thing shared through it.
    arrived.fetch_add(1, std::memory_order_acq_rel);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (arrived.load(std::memory_order_acquire) < 2 * nth) {
      if (std::chrono::steady_clock::now() > deadline) ::_exit(3);  // the other worker died
      std::this_thread::yield();
    }
  }
};
static_assert(std::atomic<int>::is_always_lock_free);

std::string encode(const Customer& c) { return std::to_string(c.balance_cents) + "|" + c.name; }
Customer decode(const std::string& text) {
  const auto bar = text.find('|');
  if (bar == std::string::npos) throw std::runtime_error("malformed customer '" + text + "'");
  return Customer{text.substr(bar + 1), std::stoll(text.substr(0, bar))};
}

Customer apply(char worker, Customer c) {
  if (worker == 'A') {
    c.name = kRenamedTo;
  } else {
    c.balance_cents += kDeposit;
  }
  return c;
}

std::string run_id() {
  std::random_device rd;
  std::ostringstream os;
  os << std::hex << rd() << rd();
  return os.str();
}

redisContext* connect_plain(const std::string& uri) {
  const auto address = redis::detail::parse_uri(uri);
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout(address.host.c_str(), address.port, tv);
  if (c == nullptr || c->err) {
    const std::string why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    throw std::runtime_error("cannot connect to " + uri + ": " + why);
  }
  redisSetTimeout(c, tv);
  return c;
}

// One command; returns the reply's text (empty when it has none).
std::string command(redisContext* c, const std::vector<std::string>& args) {
  redisReply* r = redis_command(c, args, "redis");
  std::string out = r->str ? std::string(r->str, r->len) : std::string();
  freeReplyObject(r);
  return out;
}

// The store both workers and the set-up use: the race's own entity type under the
// lab's prefix.
redis::Store<std::string> race_store(const std::string& uri, const std::string& id,
                                     std::size_t connections = 0) {
  redis::Options o;
  o.nodes = {uri};
  o.key_prefix = "vkv-lab";
  o.entity_type = id;
  o.connections_per_node = connections;  // 0: the library's default
  return redis::Store<std::string>(std::move(o));
}

// One worker process: every round, read, meet the other, write (plain), then the same
// with vkv (retrying from the current record on a conflict).
[[noreturn]] void worker(char who, const std::string& uri, const std::string& id, int rounds,
                         SharedBarrier* barrier, std::atomic<int>* conflicts) {
  int status = 0;
  try {
    redisContext* plain = connect_plain(uri);
    redis::Store<std::string> store = race_store(uri, id, 1);
    int meeting = 0;
    for (int round = 0; round < rounds; ++round) {
      const std::string key = "vkv-lab:" + id + ":plain:" + std::to_string(round);
      const Customer seen = decode(command(plain, {"GET", key}));
      barrier->arrive_and_wait(++meeting);
      command(plain, {"SET", key, encode(apply(who, seen))});
      // vkv: the same interleaving, but the write names the version it read.
      const std::string vid = "c" + std::to_string(round);
      auto current = *store.find(vid);
      barrier->arrive_and_wait(++meeting);
      for (;;) {
        auto r = store.try_update_with_version(vid, current.version,
                                               encode(apply(who, decode(current.value))));
        if (r.ok()) break;
        if (r.error() != Errc::conflict || !r.current()) r.value();  // throws the error
        // relaxed: a count the parent reads after waitpid().
        conflicts->fetch_add(1, std::memory_order_relaxed);
        current = *r.current();
      }
    }
    redisFree(plain);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkv-lab: worker %c: %s\n", who, e.what());
    status = 2;
  }
  ::_exit(status);
}

}  // namespace

RedisRaceSummary run_redis_race(const std::string& uri, int rounds) {
  const std::string id = "race-" + run_id();
  const Customer initial{"Jane Doe", 10'000};
  {
    redisContext* c = connect_plain(uri);
    redis::Store<std::string> store = race_store(uri, id);
    const WriteOptions ttl{.ttl = std::chrono::hours(1)};
    for (int round = 0; round < rounds; ++round) {
      const std::string key = "vkv-lab:" + id + ":plain:" + std::to_string(round);
      command(c, {"SET", key, encode(initial), "EX", "3600"});
      store.create("c" + std::to_string(round), encode(initial), ttl);
    }
    redisFree(c);
  }
  void* memory = ::mmap(nullptr, sizeof(SharedBarrier) + sizeof(std::atomic<int>),
                        PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
  auto* barrier = new (memory) SharedBarrier;
  auto* conflicts = new (static_cast<char*>(memory) + sizeof(SharedBarrier)) std::atomic<int>(0);
  pid_t pids[2];
  for (int w = 0; w < 2; ++w) {
    pids[w] = ::fork();
    if (pids[w] < 0) throw std::runtime_error("fork failed");
    if (pids[w] == 0) worker(w == 0 ? 'A' : 'B', uri, id, rounds, barrier, conflicts);
  }
  bool workers_ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    workers_ok = ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                 WEXITSTATUS(status) == 0 && workers_ok;
  }
  RedisRaceSummary summary;
  summary.rounds = rounds;
  summary.vkv_conflicts = conflicts->load(std::memory_order_relaxed);
  ::munmap(memory, sizeof(SharedBarrier) + sizeof(std::atomic<int>));
  if (!workers_ok) throw std::runtime_error("a race worker failed (see above)");
  // Count the updates missing from the final records: each round wants both.
  redisContext* c = connect_plain(uri);
  redis::Store<std::string> store = race_store(uri, id);
  const Customer both = apply('A', apply('B', initial));
  auto lost = [&](const Customer& final_state) {
    return (final_state.name != both.name) + (final_state.balance_cents != both.balance_cents);
  };
  for (int round = 0; round < rounds; ++round) {
    summary.plain_lost_updates +=
        lost(decode(command(c, {"GET", "vkv-lab:" + id + ":plain:" + std::to_string(round)})));
    summary.vkv_lost_updates += lost(decode(store.find("c" + std::to_string(round))->value));
  }
  redisFree(c);
  return summary;
}

std::string redis_race_story(const RedisRaceSummary& s) {
  std::ostringstream os;
  os << "   Plain GET/SET: " << s.plain_lost_updates << " of " << 2 * s.rounds
     << " updates lost (the second SET of each round overwrites the first).\n"
     << "   vkv::redis:    " << s.vkv_lost_updates << " of " << 2 * s.rounds << " updates lost; "
     << s.vkv_conflicts
     << " writes refused with a version conflict and retried from the current record.\n";
  return os.str();
}

}  // namespace vkv::lab
