#!/usr/bin/env bash
# Server work per call: vkv::redis update_with_version against WATCH/MULTI/EXEC and a plain
# HSET over ONE redis-server, with the server and the client threads pinned to
# different cores (taskset), and the server's CPU per call from INFO commandstats.
#
#   tools/redis-bench-pinned.sh [BENCH_BINARY] [OUT_DIR]
#     BENCH_BINARY  default build/dev/bench/redis_benchmark
#     OUT_DIR       default build/redis-bench-pinned
#   env: SERVER_CPU (default 0), CLIENT_CPUS (default 1), MIN_TIME (default 0.3, seconds
#        per benchmark run), PORT (default 16390 + $$ % 1000)
#
# Writes OUT_DIR/provenance.txt (commit, machine, load averages before and after, the
# command, the server's version), OUT_DIR/<who>.json (Google Benchmark), OUT_DIR/<who>.
# commandstats (INFO commandstats after that family alone: CONFIG RESETSTAT before it)
# and OUT_DIR/summary.md (goodput per thread count, ratios, server usec per call).
# The server is started here and stopped by its pid.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/dev/bench/redis_benchmark}
out=${2:-build/redis-bench-pinned}
server_cpu=${SERVER_CPU:-0}
client_cpus=${CLIENT_CPUS:-1}
min_time=${MIN_TIME:-0.3}
port=${PORT:-$((16390 + $$ % 1000))}
[[ -x $bin ]] || { echo "redis-bench-pinned: no benchmark binary at $bin" >&2; exit 2; }
mkdir -p "$out"
dir=$(mktemp -d)

taskset -c "$server_cpu" redis-server --port "$port" --bind 127.0.0.1 --save '' \
  --appendonly no --dir "$dir" --logfile "$dir/log" &
server_pid=$!
cleanup() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null

{
  echo "command: $0 $*  (SERVER_CPU=$server_cpu CLIENT_CPUS=$client_cpus MIN_TIME=$min_time)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (dirty)')"
  echo "machine: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "binary: $bin ($(grep -m1 CMAKE_BUILD_TYPE "$(dirname "$(dirname "$bin")")/CMakeCache.txt" 2>/dev/null | cut -d= -f2 || echo unknown build type))"
  echo "server: $(redis-server --version | head -1); pid $server_pid pinned to CPU $server_cpu ($(taskset -pc "$server_pid" | sed 's/.*: //'))"
  echo "clients: pinned to CPU $client_cpus"
  echo "load before: $(cat /proc/loadavg)"
} >"$out/provenance.txt"

families=(Vkv WatchMulti PlainHset LuaCas)
for who in "${families[@]}"; do
  redis-cli -p "$port" config resetstat >/dev/null
  VKV_REDIS_BENCH_PORT=$port taskset -c "$client_cpus" "$bin" \
    --benchmark_filter="^BM_${who}Single_UpdateWithVersion/" \
    --benchmark_min_time="$min_time" --benchmark_format=json >"$out/$who.json"
  redis-cli -p "$port" info commandstats | tr -d '\r' >"$out/$who.commandstats"
done
echo "load after: $(cat /proc/loadavg)" >>"$out/provenance.txt"

python3 - "$out" "${families[@]}" <<'PY'
import json, re, sys
out, families = sys.argv[1], sys.argv[2:]
goodput, stats = {}, {}
for who in families:
    for b in json.load(open(f"{out}/{who}.json"))["benchmarks"]:
        threads = int(re.search(r"threads:(\d+)", b["name"]).group(1))
        goodput.setdefault(who, {})[threads] = b.get("goodput", 0.0)
    stats[who] = {}
    for line in open(f"{out}/{who}.commandstats"):
        m = re.match(r"cmdstat_(\w+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)", line)
        if m:
            stats[who][m.group(1)] = (int(m.group(2)), int(m.group(3)), float(m.group(4)))
lines = ["# redis-bench-pinned", "", open(f"{out}/provenance.txt").read(), "",
         "## Goodput (writes/s, summed over threads)", "",
         "| threads | " + " | ".join(families) + " | vkv / WATCH-MULTI | vkv / PlainHset |",
         "|---|" + "---|" * (len(families) + 2)]
for t in sorted(goodput["Vkv"]):
    g = {w: goodput[w].get(t, 0.0) for w in families}
    ratio = g["Vkv"] / g["WatchMulti"] if g["WatchMulti"] else float("nan")
    floor = g["Vkv"] / g["PlainHset"] if g["PlainHset"] else float("nan")
    lines.append(f"| {t} | " + " | ".join(f"{g[w]:.0f}" for w in families) +
                 f" | {ratio:.2f}x | {floor:.2f}x |")
lines += ["", "## Server CPU (INFO commandstats, each family alone)", "",
          "| family | command | calls | usec | usec_per_call |", "|---|---|---|---|---|"]
for who in families:
    for cmd, (calls, usec, per) in sorted(stats[who].items(), key=lambda kv: -kv[1][1]):
        if cmd in ("config", "info", "ping"): continue
        lines.append(f"| {who} | {cmd} | {calls} | {usec} | {per:.2f} |")
lines += ["", "Per write, the family's server usec over its writes (top-level commands only: "
          "commands a script or EXEC runs inside are counted in their own rows as well):", ""]
top = {"Vkv": ["evalsha", "eval", "script"], "WatchMulti": ["watch", "hmget", "multi", "exec", "unwatch"],
       "PlainHset": ["hset"], "LuaCas": ["evalsha", "script"]}
for who in families:
    usec = sum(stats[who].get(c, (0, 0, 0))[1] for c in top[who])
    writes = sum(stats[who].get(c, (0, 0, 0))[0] for c in top[who][:1]) if who != "WatchMulti" \
        else stats[who].get("exec", (0, 0, 0))[0]
    lines.append(f"- {who}: {usec / writes if writes else float('nan'):.2f} usec per write "
                 f"({usec} usec over {writes} writes)")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
