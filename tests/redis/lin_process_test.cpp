// vkv::redis is linearizable per record across processes: N forked children (fixed
// seeds), each with its own redis::Store on one real redis-server, run the random workload
// of lin/workload.hpp on a few keys per round, stamping every call and return with
// CLOCK_MONOTONIC (one clock for all processes on the machine). Each child writes its
// history to a file; the parent collects them all and checks every per-key history
// against the versioned-register model, unknown outcomes included
// (lin/unknown_outcomes.hpp). The resolution of unknown outcomes is itself checked on
// hand-made histories that must pass and must fail.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lin/checker.hpp"
#include "lin/unknown_outcomes.hpp"
#include "lin/workload.hpp"
#include "redis/backends.hpp"

namespace vkv_test::lin {
namespace {

using redis::TempDir;

// ---------------------------------------------------------------- history files

void put_rec(std::ostream& os, const std::optional<RawRec>& r) {
  if (!r) {
    os << " -";
    return;
  }
  os << " " << r->value.a << " " << r->value.b << " " << r->version << " " << r->revision << " "
     << r->deleted;
}

std::optional<RawRec> get_rec(std::istream& is) {
  std::string first;
  is >> first;
  if (first == "-") return std::nullopt;
  RawRec r;
  std::string version;
  r.value.a = std::stoll(first);
  is >> r.value.b >> version >> r.revision >> r.deleted;
  r.version = *vkv::Version::parse(version);
  return r;
}

std::string encode(const RawOp& op) {
  std::ostringstream os;
  os << op.round << " " << op.key << " " << op.client << " " << static_cast<int>(op.kind) << " "
     << op.value.a << " " << op.value.b << " " << op.expected << " " << op.include_deleted << " "
     << static_cast<int>(op.outcome) << " "
     << (op.remote_error ? static_cast<int>(*op.remote_error) : 0) << " " << (op.anomaly != nullptr)
     << " " << op.call << " " << op.ret;
  put_rec(os, op.record);
  put_rec(os, op.current);
  os << " " << (op.actual ? op.actual->to_string() : "-");
  return os.str();
}

RawOp decode(const std::string& line) {
  std::istringstream is(line);
  RawOp op;
  int kind = 0, outcome = 0, remote = 0, anomaly = 0;
  std::string expected, actual;
  is >> op.round >> op.key >> op.client >> kind >> op.value.a >> op.value.b >> expected >>
      op.include_deleted >> outcome >> remote >> anomaly >> op.call >> op.ret;
  op.kind = static_cast<OpKind>(kind);
  op.outcome = static_cast<Outcome>(outcome);
  op.expected = *vkv::Version::parse(expected);
  if (remote != 0) op.remote_error = static_cast<vkv::Errc>(remote);
  if (anomaly != 0) op.anomaly = "an error object contradicted the call (in a child)";
  op.record = get_rec(is);
  op.current = get_rec(is);
  is >> actual;
  if (actual != "-") op.actual = vkv::Version::parse(actual);
  if (!is) throw std::runtime_error("malformed history line: " + line);
  return op;
}

// ---------------------------------------------------------------- the children

// A barrier in memory shared by the forked children: round r starts when all are there,
// and when the parent allows it (it holds the children between rounds to inject faults).
struct Shared {
  explicit Shared(int allowed) : allowed_rounds(allowed) {}
  std::atomic<int> arrived{0};
  std::atomic<int> allowed_rounds;  // rounds [0, allowed_rounds) may start
};
// The fewest rounds any child has started, for the parent's fault injection.
inline int rounds_started(const Shared& shared, int processes) {
  // acquire: a progress snapshot; nothing else is read through it.
  return shared.arrived.load(std::memory_order_acquire) / processes;
}
static_assert(std::atomic<int>::is_always_lock_free, "a process-shared atomic must be lock-free");

[[noreturn]] void child_main(const std::string& uri, const std::string& entity, int id,
                             const WorkloadConfig& cfg, Shared* shared,
                             const std::string& history_file) {
  int status = 0;
  try {
    vkv::redis::Options o;
    o.nodes = {uri};
    o.entity_type = entity;
    o.connections_per_node = 1;
    o.connect_timeout = std::chrono::milliseconds(300);
    o.command_timeout = std::chrono::milliseconds(500);
    vkv::redis::Store<Value> store(std::move(o));
    detail::Client<vkv::redis::Store<Value>> client(store, id, cfg.seed * 7919 + id);
    std::vector<RawOp> ops;
    for (int round = 0; round < cfg.rounds; ++round) {
      // acq_rel / acquire: the count is all that is shared; a bounded wait, so a dead
      // sibling ends this child instead of hanging the test.
      shared->arrived.fetch_add(1, std::memory_order_acq_rel);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (shared->arrived.load(std::memory_order_acquire) < cfg.threads * (round + 1) ||
             shared->allowed_rounds.load(std::memory_order_acquire) <= round) {
        if (std::chrono::steady_clock::now() > deadline) ::_exit(3);
        std::this_thread::yield();
      }
      client.run_round(round, cfg, ops);
    }
    std::ofstream out(history_file);
    for (const RawOp& op : ops) out << encode(op) << "\n";
    out.close();
    status = out ? 0 : 4;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lin child %d: %s\n", id, e.what());
    status = 2;
  }
  // _exit: no atexit handlers or static destructors, which would kill the parent's
  // servers (the harness kills by pid in destructors).
  ::_exit(status);
}

// Forks cfg.threads children against `uri`, calls during(shared) in the parent while they
// run (fault injection), collects and checks their histories.
template <class During>
RemoteCheck run_forked(const WorkloadConfig& cfg, const std::string& uri, int allowed_rounds,
                       During&& during) {
  const std::string entity = redis::unique_entity("Lin");
  TempDir dir("vkv-redis-lin");
  void* memory =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
  auto* shared = new (memory) Shared(allowed_rounds);
  std::vector<pid_t> children;
  for (int id = 0; id < cfg.threads; ++id) {
    const std::string file = (dir.path() / ("history" + std::to_string(id))).string();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) child_main(uri, entity, id, cfg, shared, file);
    children.push_back(pid);
  }
  during(*shared);
  for (pid_t pid : children) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  ::munmap(memory, sizeof(Shared));
  std::vector<RawOp> all;
  for (int id = 0; id < cfg.threads; ++id) {
    std::ifstream in(dir.path() / ("history" + std::to_string(id)));
    for (std::string line; std::getline(in, line);) all.push_back(decode(line));
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(cfg.threads * cfg.rounds * cfg.ops_per_thread));
  std::size_t anomalies = 0;
  for (const RawOp& op : all) anomalies += op.anomaly != nullptr;
  EXPECT_EQ(anomalies, 0u);
  const RemoteCheck r = check_remote_run(all, cfg);
  std::printf(
      "lin over redis: %zu processes, %zu histories, %zu checked calls (%zu overlapping), "
      "%zu unavailable, %zu unknown (%zu assignments tried)\n",
      static_cast<std::size_t>(cfg.threads), r.histories, r.operations, r.overlapping,
      r.unavailable, r.unknown, r.assignments);
  EXPECT_TRUE(r.linearizable) << r.first_failure;
  // Versions from different processes never collide.
  std::vector<Operation> writes;
  std::unordered_map<vkv::Version, VersionId> ids;
  for (const RawOp& op : all) {
    if (op.remote_error || op.outcome != Outcome::ok || !op.record) continue;
    Operation w;
    w.input.kind = op.kind;
    w.output.outcome = Outcome::ok;
    w.output.record =
        Rec{op.record->value, ids.emplace(op.record->version, ids.size() + 1).first->second,
            op.record->revision, op.record->deleted};
    writes.push_back(w);
  }
  EXPECT_FALSE(repeated_write_version(writes).has_value());
  return r;
}

WorkloadConfig forked_config() {
  WorkloadConfig cfg;
  cfg.threads = 4;  // processes
  cfg.ops_per_thread = 8;
  cfg.keys = 2;
  cfg.rounds = 100;
  cfg.seed = 14;
  cfg.remote = true;
  return cfg;
}

TEST(RedisLinearizability, ForkedProcessesOnOneServer) {
  const WorkloadConfig cfg = forked_config();
  const RemoteCheck r = run_forked(cfg, redis::shared_server().uri(), cfg.rounds, [](Shared&) {});
  // The processes really ran at once: many calls overlapped another process's.
  EXPECT_GT(r.overlapping, r.operations / 10);
  EXPECT_EQ(r.unavailable + r.unknown, 0u);  // no fault: every call had an outcome
  EXPECT_EQ(r.histories, static_cast<std::size_t>(cfg.rounds * cfg.keys));
}

// The same with the server killed (-9) three times: the parent holds the children before a
// round, kills the server, lets them play that round against the dead server (every call
// reports unavailable or an unknown outcome), waits for them at the next round, restarts
// the server (same port, AOF) and lets them go on. The third time it lets the round start
// first and kills the server as it does, so some calls are in flight at the kill. The model
// resolves those outcomes; every history must still be linearizable.
TEST(RedisLinearizability, ForkedProcessesAcrossKillNineAndRestart) {
  WorkloadConfig cfg = forked_config();
  cfg.seed = 15;
  TempDir dir("vkv-redis-lin-fault");
  redis::RedisServer server(dir.path());
  const std::vector<int> kills = {cfg.rounds / 4, cfg.rounds / 2, 3 * cfg.rounds / 4};
  const RemoteCheck r = run_forked(cfg, server.uri(), kills[0], [&](Shared& shared) {
    for (std::size_t i = 0; i < kills.size(); ++i) {
      const int at = kills[i];
      // All children wait before round `at`.
      EXPECT_TRUE(redis::poll_until(std::chrono::seconds(60),
                                    [&] { return rounds_started(shared, cfg.threads) >= at + 1; }));
      const bool racing = i == 2;
      if (!racing) server.kill9();
      // release: pairs with the children's acquire load; only the number is shared.
      shared.allowed_rounds.store(at + 1, std::memory_order_release);
      if (racing) server.kill9();
      EXPECT_TRUE(redis::poll_until(std::chrono::seconds(60),
                                    [&] { return rounds_started(shared, cfg.threads) >= at + 2; }));
      server.restart();
      shared.allowed_rounds.store(i + 1 < kills.size() ? kills[i + 1] : cfg.rounds,
                                  std::memory_order_release);
    }
  });
  // Every call of the two rounds played against the dead server failed, and was counted.
  EXPECT_GE(r.unavailable + r.unknown,
            static_cast<std::size_t>(2 * cfg.threads * cfg.ops_per_thread));
  // Every other round has a history.
  EXPECT_GE(r.histories, static_cast<std::size_t>((cfg.rounds - 3) * cfg.keys));
}

// ---------------------------------------------------------------- the model's resolution

// One key: a create (v1), then client 1's update with an unknown or unavailable outcome,
// then a find that sees the update applied (an orphan version v2).
std::vector<RawOp> history_with(vkv::Errc error, bool applied) {
  const vkv::Version v1 = *vkv::Version::parse("00000000-0000-4000-8000-000000000001");
  const vkv::Version v2 = *vkv::Version::parse("00000000-0000-4000-8000-000000000002");
  RawOp create;
  create.kind = OpKind::create;
  create.value = Value{1, 2};
  create.record = RawRec{Value{1, 2}, v1, 1, false};
  create.call = 1;
  create.ret = 2;
  RawOp update;
  update.client = 1;
  update.kind = OpKind::update;
  update.value = Value{3, 4};
  update.expected = v1;
  update.remote_error = error;
  update.call = 3;
  update.ret = 4;
  RawOp find;
  find.client = 2;
  find.kind = OpKind::find;
  find.record = applied ? RawRec{Value{3, 4}, v2, 2, false} : RawRec{Value{1, 2}, v1, 1, false};
  find.call = 5;
  find.ret = 6;
  return {create, update, find};
}

TEST(RedisLinearizability, UnknownOutcomesAreResolvedEitherWayButUnavailableMeansNotApplied) {
  WorkloadConfig cfg;
  cfg.rounds = 1;
  cfg.keys = 1;
  cfg.remote = true;
  EXPECT_TRUE(check_remote_run(history_with(vkv::Errc::unknown_outcome, true), cfg).linearizable);
  EXPECT_TRUE(check_remote_run(history_with(vkv::Errc::unknown_outcome, false), cfg).linearizable);
  EXPECT_TRUE(check_remote_run(history_with(vkv::Errc::unavailable, false), cfg).linearizable);
  // Reported unavailable (not applied), yet a later read sees it applied: rejected.
  EXPECT_FALSE(check_remote_run(history_with(vkv::Errc::unavailable, true), cfg).linearizable);
  // An unknown update cannot explain a record with another value.
  auto wrong = history_with(vkv::Errc::unknown_outcome, true);
  wrong[2].record->value = Value{9, 9};
  EXPECT_FALSE(check_remote_run(wrong, cfg).linearizable);
  // The strict in-process path refuses remote errors outright.
  EXPECT_THROW(per_key_histories(history_with(vkv::Errc::unknown_outcome, true), cfg),
               std::logic_error);
}

// A create whose reply was lost, which applied (another client read
// it), then another client erased it, all while the create was in flight. The store
// must not call it "not applied" (unavailable): the model rejects that history, and
// accepts it with an unknown outcome. So the store reports unknown_outcome here
// (RedisLostCreate.AppliedThenErasedByAnotherClientIsUnknown, redis_store_smoke_test,
// drives the real case).
std::vector<RawOp> lost_create_then_erased(vkv::Errc error) {
  const vkv::Version v1 = *vkv::Version::parse("00000000-0000-4000-8000-0000000000c1");
  RawOp create;
  create.client = 1;
  create.kind = OpKind::create;
  create.value = Value{1, 2};
  create.remote_error = error;
  create.call = 1;
  create.ret = 20;  // in flight for the whole story
  RawOp seen;
  seen.client = 2;
  seen.kind = OpKind::find;
  seen.record = RawRec{Value{1, 2}, v1, 1, false};
  seen.call = 2;
  seen.ret = 3;
  RawOp erase;
  erase.client = 2;
  erase.kind = OpKind::erase;
  erase.expected = v1;
  erase.record = seen.record;
  erase.call = 4;
  erase.ret = 5;
  RawOp gone;
  gone.client = 2;
  gone.kind = OpKind::find;
  gone.outcome = Outcome::not_found;
  gone.call = 21;
  gone.ret = 22;
  return {create, seen, erase, gone};
}

TEST(RedisLinearizability, LostCreateAppliedThenErasedIsUnknownNeverNotApplied) {
  WorkloadConfig cfg;
  cfg.rounds = 1;
  cfg.keys = 1;
  cfg.remote = true;
  EXPECT_TRUE(
      check_remote_run(lost_create_then_erased(vkv::Errc::unknown_outcome), cfg).linearizable);
  EXPECT_FALSE(check_remote_run(lost_create_then_erased(vkv::Errc::unavailable), cfg).linearizable);
}

}  // namespace
}  // namespace vkv_test::lin
