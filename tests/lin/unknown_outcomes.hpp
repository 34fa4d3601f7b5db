// Checking histories of a remote store (vkv::redis), whose calls may also report
// Errc::unavailable or Errc::unknown_outcome (tests only).
//
// What the contract says each means, and how the model takes it:
// - a read that reports unavailable told nothing: left out;
// - a write that reports unavailable was not applied (docs/redis.md, "Faults"): left
//   out, so a write that did apply anyway leaves a version no call explains, and the
//   history fails;
// - a write that reports unknown_outcome may or may not have taken effect. Its fresh
//   version, if it took effect, is one that some call observed (a find, a conflict's
//   current record, an erased record) but no successful write returned: an "orphan". Each
//   unknown write is tried both ways: not applied (left out), or applied with each
//   orphan record that fits it (its value, its deleted flag), returning at infinity (it
//   may have taken effect at any time after its call). The history is linearizable if
//   some assignment (each orphan used by at most one write) is. An unknown erase, which
//   creates no version, is tried as not applied and as applied.
// The in-process workloads never produce remote errors: per_key_histories
// (lin/workload.hpp) refuses them.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lin/checker.hpp"
#include "lin/workload.hpp"

namespace vkv_test::lin {

struct RemoteCheck {
  bool linearizable = true;
  std::size_t histories = 0;
  std::size_t operations = 0;   // calls with a definite outcome that were checked
  std::size_t unavailable = 0;  // calls left out as unavailable
  std::size_t unknown = 0;      // writes with an unknown outcome
  std::size_t assignments = 0;  // unknown-write assignments tried
  std::size_t overlapping = 0;  // checked calls that overlapped another
  std::string first_failure;
};

namespace detail {

inline bool creates_version(OpKind k) {
  return k == OpKind::create || k == OpKind::update || k == OpKind::patch ||
         k == OpKind::soft_delete || k == OpKind::restore;
}

// Whether an orphan record can be what the unknown write `in` produced.
inline bool fits(const Input& in, const Rec& r) {
  switch (in.kind) {
    case OpKind::create:
      return r.value == in.value && r.revision == 1 && !r.deleted;
    case OpKind::update:
      return r.value == in.value;
    case OpKind::patch:
      return true;
    case OpKind::soft_delete:
      return r.deleted;
    case OpKind::restore:
      return !r.deleted;
    default:
      return false;
  }
}

// Tries the candidates of unknown write `u` and the ones after it; true when one
// assignment makes `base` plus the applied writes linearizable.
inline bool try_assignments(const std::vector<Operation>& base,
                            const std::vector<Operation>& unknown,
                            const std::vector<std::vector<std::optional<Rec>>>& candidates,
                            std::size_t u, std::vector<Operation>& applied,
                            std::vector<VersionId>& used, std::size_t& tried) {
  if (u == unknown.size()) {
    ++tried;
    std::vector<Operation> h = base;
    h.insert(h.end(), applied.begin(), applied.end());
    return check(h).linearizable;
  }
  // Not applied.
  if (try_assignments(base, unknown, candidates, u + 1, applied, used, tried)) return true;
  for (const std::optional<Rec>& c : candidates[u]) {
    if (c && std::find(used.begin(), used.end(), c->version) != used.end()) continue;
    Operation op = unknown[u];
    op.output = Output{};
    op.output.outcome = Outcome::ok;
    op.output.record = c;  // nullopt for an erase: the throwing erase's "ok, no record"
    op.ret = std::numeric_limits<std::uint64_t>::max() - 1;
    applied.push_back(op);
    if (c) used.push_back(c->version);
    const bool ok = try_assignments(base, unknown, candidates, u + 1, applied, used, tried);
    applied.pop_back();
    if (c) used.pop_back();
    if (ok) return true;
  }
  return false;
}

}  // namespace detail

// Checks a recorded remote run, one history per (round, key), as described above.
inline RemoteCheck check_remote_run(const std::vector<RawOp>& all, const WorkloadConfig& cfg) {
  OperationNamer names;
  const std::size_t n = static_cast<std::size_t>(cfg.rounds * cfg.keys);
  std::vector<std::vector<Operation>> base(n), unknown(n);
  RemoteCheck result;
  for (const RawOp& raw_op : all) {
    const std::size_t k = static_cast<std::size_t>(raw_op.round * cfg.keys + raw_op.key);
    Operation op = names.call(raw_op);
    if (raw_op.remote_error) {
      if (*raw_op.remote_error == vkv::Errc::unknown_outcome && raw_op.kind != OpKind::find) {
        ++result.unknown;
        unknown[k].push_back(op);
      } else {
        ++result.unavailable;
      }
      continue;
    }
    names.complete(raw_op, op);
    base[k].push_back(op);
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (base[k].empty() && unknown[k].empty()) continue;
    ++result.histories;
    result.operations += base[k].size();
    result.overlapping += count_overlapping(base[k]);
    // Orphans: records observed whose version no successful write returned.
    std::map<VersionId, Rec> observed;
    std::vector<VersionId> produced;
    for (const Operation& op : base[k]) {
      const bool produces =
          detail::creates_version(op.input.kind) && op.output.outcome == Outcome::ok;
      if (produces && op.output.record) produced.push_back(op.output.record->version);
      if (!produces && op.output.record) observed[op.output.record->version] = *op.output.record;
      if (op.output.current) observed[op.output.current->version] = *op.output.current;
    }
    std::vector<Rec> orphans;
    for (const auto& [version, r] : observed) {
      if (std::find(produced.begin(), produced.end(), version) == produced.end()) {
        orphans.push_back(r);
      }
    }
    std::vector<std::vector<std::optional<Rec>>> candidates;
    for (const Operation& u : unknown[k]) {
      std::vector<std::optional<Rec>> c;
      if (u.input.kind == OpKind::erase) c.push_back(std::nullopt);
      for (const Rec& r : orphans) {
        if (detail::fits(u.input, r)) c.push_back(r);
      }
      candidates.push_back(std::move(c));
    }
    std::vector<Operation> applied;
    std::vector<VersionId> used;
    if (!detail::try_assignments(base[k], unknown[k], candidates, 0, applied, used,
                                 result.assignments)) {
      if (result.linearizable) {
        std::vector<Operation> h = base[k];
        h.insert(h.end(), unknown[k].begin(), unknown[k].end());
        result.first_failure = describe(h);
      }
      result.linearizable = false;
    }
  }
  return result;
}

}  // namespace vkv_test::lin
