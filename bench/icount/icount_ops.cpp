// icount_ops: runs ONE named operation over a prepared store, for tools/icount.sh to
// count its instructions (and cache misses) under valgrind --tool=callgrind.
//
//   icount_ops <op> <n> [--records R] [--keys cust|uuid]
//
// Builds a store of R records (default 10000) with keys "cust-<i>" (10 characters at
// 10k: inline in std::string) or 36-character UUID text (heap-allocated keys), and a
// 40-byte trivially copyable value; one thread. Then, with callgrind's instrumentation
// switched on only here (the binary runs under --instr-atstart=no), it runs the
// operation n times, dumps the counts (part 1), runs it n more times and dumps again
// (part 2). Part 2 alone is I(2n) - I(n): the cost of n operations in steady state,
// with the set-up, the start of instrumentation and the first-touch costs left in
// part 1. tools/icount.sh divides part 2 by n. Outside valgrind the client requests
// are no-ops, so the program also runs (and checks itself) natively.
//
// Operations (vkv_* and their peers, chm_*: the benchmarks' tbb::concurrent_hash_map
// peer, bench/peers/chm_peer.hpp's hash and allocator, holding the same value):
//   vkv_find / chm_find                 find + copy of the record / const_accessor + copy
//   vkv_visit / chm_visit               read one byte in place / const_accessor, in place
//   vkv_find_many                       find_many over batches of 16 keys, per key
//   vkv_create / chm_create             insert of a new key / emplace
//   vkv_put / chm_put                   insert-or-assign of an existing key / accessor
//                                       insert + assign
//   vkv_update_with_version / chm_update version-checked assign / accessor find + assign
//   vkv_patch_with_version              version-checked mutate of one byte
//   vkv_update_with_retry / chm_rmw     read-modify-write of one byte / write accessor
//                                       held across the mutate + a fresh UUID + revision
//   vkv_erase / chm_erase               version-checked erase of a record made for it
//   vkv_try_commit                      try_commit of a transaction updating 2 records
//                                       (building the transaction included)
// Every operation is checked to succeed (std::abort otherwise): a count of a failing
// path would be a count of the wrong thing.
#include <oneapi/tbb/concurrent_hash_map.h>
#include <valgrind/callgrind.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "peers/common.hpp"  // SplitMix: the fixed-seed stream that picks keys, makes UUID text
#include "vkv/detail/version_generator.hpp"
#include "vkv/store.hpp"

namespace {

using vkv_bench::SplitMix;

// The record payload: 40 bytes, trivially copyable (a small row).
struct Value40 {
  std::array<char, 40> bytes{};
};

Value40 make_value(std::uint64_t seed) {
  Value40 v;
  for (std::size_t i = 0; i < v.bytes.size(); ++i) {
    v.bytes[i] = static_cast<char>('a' + (seed + i) % 26);
  }
  return v;
}

std::string uuid_key(std::uint64_t i) {
  SplitMix random{0x0bad5eedULL ^ (i * 0x9e3779b97f4a7c15ULL)};
  const std::uint64_t hi = random.next(), lo = random.next();
  char text[40];
  std::snprintf(text, sizeof text, "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xfff),
                static_cast<unsigned long long>(lo >> 52),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return text;
}

std::vector<std::string> make_keys(bool uuid, std::size_t first, std::size_t count) {
  std::vector<std::string> keys;
  keys.reserve(count);
  for (std::size_t i = first; i < first + count; ++i) {
    keys.push_back(uuid ? uuid_key(i) : "cust-" + std::to_string(i));
  }
  return keys;
}

// Keeps a value alive for the compiler (the counted work must not be optimised away).
template <class T>
void keep(const T& value) {
  asm volatile("" : : "r"(&value) : "memory");
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "icount_ops: %s failed\n", what);
    std::abort();
  }
}

// The benchmarks' CHM peer (same hash, same allocator), generic in what a key maps to.
struct StdHashCompare {
  std::size_t hash(const std::string& key) const { return std::hash<std::string>{}(key); }
  bool equal(const std::string& a, const std::string& b) const { return a == b; }
};
template <class Entry>
using Chm = tbb::concurrent_hash_map<std::string, Entry, StdHashCompare,
                                     std::allocator<std::pair<const std::string, Entry>>>;

// What the optimistic-by-hand peer stores: the value and a per-record counter.
struct Versioned {
  Value40 value;
  std::uint64_t version;
};
// What the pessimistic read-modify-write peer stores: vkv's record fields.
struct Revisioned {
  Value40 value;
  vkv::Version version;
  std::uint64_t revision;
};

// One read of every key, in part 1 (dropped): it finishes the CHM's lazy rehashing of
// its buckets (a bucket left over from a growth is split on its first access), and it
// fills the simulated caches (--cache-sim sees only instrumented code), so part 2
// sees each store in steady state.
template <class Map>
void warm_up(const Map& map, const std::vector<std::string>& keys) {
  for (const auto& key : keys) {
    typename Map::const_accessor accessor;
    check(map.find(accessor, key), "warm-up");
  }
}

struct Setup {
  std::size_t records = 10000;
  bool uuid = false;
  std::size_t n = 0;
  std::vector<std::string> keys;     // the records present
  std::vector<std::string> fresh;    // 2n keys not present (create, erase)
  std::vector<std::uint32_t> order;  // 2n picks in [0, records), fixed seed
};

// The warm-up pass of the store under test (one read of every record), set by run_*.
std::function<void()> warm;

// Runs warm() and body(j) for j in [0, n), dumps (part 1), then body(j) for j in
// [n, 2n), dumps (part 2).
template <class Body>
void measured(std::size_t n, Body&& body) {
  CALLGRIND_START_INSTRUMENTATION;
  if (warm) warm();
  for (std::size_t j = 0; j < n; ++j) body(j);
  CALLGRIND_DUMP_STATS_AT("part1");
  for (std::size_t j = n; j < 2 * n; ++j) body(j);
  CALLGRIND_DUMP_STATS_AT("part2");
  CALLGRIND_STOP_INSTRUMENTATION;
}

int run_vkv(const std::string& op, const Setup& s) {
  using Store = vkv::Store<Value40>;
  Store store;
  std::vector<vkv::Version> versions;
  versions.reserve(s.records);
  for (std::size_t i = 0; i < s.records; ++i) {
    versions.push_back(store.create(s.keys[i], make_value(i)).version);
  }
  warm = [&] {
    for (const auto& key : s.keys) check(store.visit(key, [](const auto&) {}), "warm-up");
  };
  const Value40 values[2] = {make_value(1), make_value(2)};
  const auto& keys = s.keys;
  const auto& order = s.order;
  if (op == "vkv_find") {
    measured(s.n, [&](std::size_t j) {
      auto found = store.find(keys[order[j]]);
      check(found.has_value(), "find");
      keep(found);
    });
  } else if (op == "vkv_visit") {
    measured(s.n, [&](std::size_t j) {
      char seen = 0;
      const bool found = store.visit(keys[order[j]], [&](const vkv::RecordView<Value40>& view) {
        seen = view.value.bytes[5];
      });
      check(found, "visit");
      keep(seen);
    });
  } else if (op == "vkv_find_many") {
    // One "operation" is one key; batches of 16 keys in the pick order.
    constexpr std::size_t kBatch = 16;
    std::vector<std::string> picked;
    picked.reserve(2 * s.n + kBatch);
    for (std::size_t j = 0; j < 2 * s.n + kBatch; ++j)
      picked.push_back(keys[order[j % order.size()]]);
    measured(s.n, [&](std::size_t j) {
      if (j % kBatch != 0) return;
      auto found = store.find_many(std::span<const std::string>(picked.data() + j, kBatch));
      check(found.size() == kBatch && found.back().has_value(), "find_many");
      keep(found);
    });
  } else if (op == "vkv_create") {
    measured(s.n, [&](std::size_t j) {
      auto made = store.create(s.fresh[j], values[j & 1]);
      keep(made);
    });
  } else if (op == "vkv_put") {
    measured(s.n, [&](std::size_t j) {
      const std::size_t i = order[j];
      auto written = store.put(keys[i], values[j & 1]);
      versions[i] = written.version;
      keep(written);
    });
  } else if (op == "vkv_update_with_version") {
    measured(s.n, [&](std::size_t j) {
      const std::size_t i = order[j];
      versions[i] = store.update_with_version(keys[i], versions[i], values[j & 1]).version;
    });
  } else if (op == "vkv_patch_with_version") {
    measured(s.n, [&](std::size_t j) {
      const std::size_t i = order[j];
      versions[i] =
          store.patch_with_version(keys[i], versions[i], [](Value40& v) { ++v.bytes[0]; }).version;
    });
  } else if (op == "vkv_update_with_retry") {
    measured(s.n, [&](std::size_t j) {
      const std::size_t i = order[j];
      versions[i] = store.update_with_retry(keys[i], [](Value40& v) { ++v.bytes[0]; }).version;
    });
  } else if (op == "vkv_erase") {
    std::vector<vkv::Version> made;
    made.reserve(2 * s.n);
    for (const auto& key : s.fresh) made.push_back(store.create(key, values[0]).version);
    measured(s.n, [&](std::size_t j) { store.erase(s.fresh[j], made[j]); });
  } else if (op == "vkv_try_commit") {
    measured(s.n, [&](std::size_t j) {
      const std::size_t a = order[j];
      const std::size_t b = (a + 1) % s.records;
      vkv::Transaction<Value40> tx;
      tx.update(keys[a], versions[a], values[j & 1]).update(keys[b], versions[b], values[j & 1]);
      auto result = store.try_commit(tx);
      check(result.ok(), "try_commit");
      versions[a] = result.value()[0].version;
      versions[b] = result.value()[1].version;
    });
  } else {
    return 2;
  }
  return 0;
}

int run_chm(const std::string& op, const Setup& s) {
  const Value40 values[2] = {make_value(1), make_value(2)};
  const auto& keys = s.keys;
  const auto& order = s.order;
  if (op == "chm_rmw") {
    Chm<Revisioned> map;
    for (std::size_t i = 0; i < s.records; ++i) {
      map.emplace(keys[i], Revisioned{make_value(i), vkv::detail::next_version(), 1});
    }
    warm = [&] { warm_up(map, keys); };
    measured(s.n, [&](std::size_t j) {
      typename Chm<Revisioned>::accessor accessor;
      check(map.find(accessor, keys[order[j]]), "chm rmw");
      ++accessor->second.value.bytes[0];
      accessor->second.version = vkv::detail::next_version();
      ++accessor->second.revision;
    });
    return 0;
  }
  using Map = Chm<Versioned>;
  Map map;
  std::vector<std::uint64_t> versions(s.records, 1);
  for (std::size_t i = 0; i < s.records; ++i) map.emplace(keys[i], Versioned{make_value(i), 1});
  warm = [&] { warm_up(map, keys); };
  if (op == "chm_find") {
    measured(s.n, [&](std::size_t j) {
      std::optional<Versioned> found;
      {
        Map::const_accessor accessor;
        if (map.find(accessor, keys[order[j]])) found = accessor->second;
      }
      check(found.has_value(), "chm find");
      keep(found);
    });
  } else if (op == "chm_visit") {
    measured(s.n, [&](std::size_t j) {
      char seen = 0;
      Map::const_accessor accessor;
      check(map.find(accessor, keys[order[j]]), "chm visit");
      seen = accessor->second.value.bytes[5];
      keep(seen);
    });
  } else if (op == "chm_create") {
    measured(s.n, [&](std::size_t j) {
      check(map.emplace(s.fresh[j], Versioned{values[j & 1], 1}), "chm create");
    });
  } else if (op == "chm_put") {
    measured(s.n, [&](std::size_t j) {
      Map::accessor accessor;
      map.insert(accessor, keys[order[j]]);
      accessor->second.value = values[j & 1];
      ++accessor->second.version;
    });
  } else if (op == "chm_update") {
    measured(s.n, [&](std::size_t j) {
      const std::size_t i = order[j];
      Map::accessor accessor;
      check(map.find(accessor, keys[i]) && accessor->second.version == versions[i], "chm update");
      accessor->second.value = values[j & 1];
      versions[i] = ++accessor->second.version;
    });
  } else if (op == "chm_erase") {
    for (const auto& key : s.fresh) map.emplace(key, Versioned{values[0], 1});
    measured(s.n, [&](std::size_t j) {
      Map::accessor accessor;
      check(map.find(accessor, s.fresh[j]) && accessor->second.version == 1, "chm erase find");
      check(map.erase(accessor), "chm erase");
    });
  } else {
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: icount_ops <op> <n> [--records R] [--keys cust|uuid]\n");
    return 2;
  }
  const std::string op = argv[1];
  Setup s;
  s.n = static_cast<std::size_t>(std::strtoull(argv[2], nullptr, 10));
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--records") {
      s.records = static_cast<std::size_t>(std::strtoull(argv[i + 1], nullptr, 10));
    } else if (flag == "--keys") {
      s.uuid = std::string_view(argv[i + 1]) == "uuid";
    } else {
      std::fprintf(stderr, "icount_ops: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (s.n == 0 || s.records < 2) return 2;
  s.keys = make_keys(s.uuid, 0, s.records);
  s.fresh = make_keys(s.uuid, s.records, 2 * s.n);
  SplitMix random{0x5eed + s.records};
  s.order.resize(2 * s.n);
  for (auto& pick : s.order) pick = static_cast<std::uint32_t>(random.next() % s.records);
  const int status = op.rfind("vkv_", 0) == 0 ? run_vkv(op, s) : run_chm(op, s);
  if (status == 2) std::fprintf(stderr, "icount_ops: unknown operation %s\n", op.c_str());
  return status;
}
