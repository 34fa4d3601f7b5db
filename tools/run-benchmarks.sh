#!/usr/bin/env bash
# Builds the release preset and runs every benchmark binary, writing Google Benchmark
# JSON into a results directory, then (full runs) turns it into docs/charts/*.svg and
# the tables of docs/benchmarks.md with tools/bench-charts.py.
#
#   tools/run-benchmarks.sh [--smoke] [--out DIR] [--build-dir DIR] [--no-build] [--no-charts]
#
# --smoke      every benchmark once, tiny (VKV_BENCH_SMOKE=1, VKV_BENCH_KEYS=2000,
#              --benchmark_min_time=0.01, no repetitions): checks that none rots. .ci/run calls this; < 2 minutes on
#              the 2-core machine of docs/benchmarks.md. Never touches docs/.
# --out DIR    results directory (default: build/bench-results/<UTC timestamp>, or
#              build/bench-results/smoke for --smoke; build/ is git-ignored).
# --build-dir  an existing/own build directory instead of the release preset's
#              (configured here with the same settings: Release, tests off).
# --no-build   use the binaries already in the build directory.
# --no-charts  do not run tools/bench-charts.py.
# --only LIST  comma-separated subset of: ops,memory,ycsb,reclaim,others (default: all;
#              "others" = benchmark binaries other areas add, e.g. contention_benchmark).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
smoke=0 build=1 charts=1 out="" build_dir="" only="ops,memory,ycsb,reclaim,others"
while (($#)); do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out="$2"; shift ;;
    --build-dir) build_dir="$2"; shift ;;
    --no-build) build=0 ;;
    --no-charts) charts=0 ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run-benchmarks: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

targets=(ops_benchmark memory_benchmark ycsb_benchmark reclaim_benchmark)
jobs=${VKV_BUILD_JOBS:-2}

if ((build)); then
  if [[ -z "$build_dir" ]]; then
    (cd "$root" && cmake --preset release >/dev/null)
    build_dir="$root/build/release"
  else
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKV_BUILD_TESTS=OFF >/dev/null
  fi
  # Other engineers' benchmark binaries (bench/cmake/*.cmake) run too when they exist.
  for t in $(cmake --build "$build_dir" --target help 2>/dev/null | sed -n 's/^\([a-z_]*_benchmark\):.*/\1/p'); do
    [[ " ${targets[*]} " == *" $t "* ]] || targets+=("$t")
  done
  cmake --build "$build_dir" -j"$jobs" --target "${targets[@]}"
fi
build_dir=${build_dir:-$root/build/release}
bin="$build_dir/bench"

if [[ -z "$out" ]]; then
  if ((smoke)); then out="$root/build/bench-results/smoke"; else out="$root/build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"; fi
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

common=(--benchmark_format=console --benchmark_out_format=json)
if ((smoke)); then
  export VKV_BENCH_KEYS=${VKV_BENCH_KEYS:-2000} VKV_BENCH_SMOKE=1
  common+=(--benchmark_min_time=0.01)
  ops_args=() ycsb_args=() reclaim_args=()
else
  unset VKV_BENCH_KEYS VKV_BENCH_SMOKE
  # Repetitions: the charts take the minimum (least disturbed) and show the median.
  # Random interleaving spreads each benchmark's repetitions over the whole run, so
  # vkv and its peer see the same mix of machine load instead of one quiet minute each.
  ops_args=(--benchmark_repetitions=5 --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true)
  ycsb_args=(--benchmark_repetitions=3 --benchmark_min_time=0.3 --benchmark_enable_random_interleaving=true)
  reclaim_args=(--benchmark_repetitions=5 --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true)
fi

wanted() { [[ ",$only," == *",$1,"* ]]; }

commands=()
run() {  # run NAME BINARY ARGS...
  local name=$1 binary=$2
  shift 2
  local cmd=("$binary" "${common[@]}" --benchmark_out="$out/$name.json" "$@")
  commands+=("${cmd[*]#$root/}")
  echo "== $name: ${cmd[*]}"
  "${cmd[@]}"
}

start=$(date +%s)
wanted ops && run ops "$bin/ops_benchmark" "${ops_args[@]}"
wanted reclaim && run reclaim "$bin/reclaim_benchmark" "${reclaim_args[@]}"
wanted ycsb && run ycsb "$bin/ycsb_benchmark" "${ycsb_args[@]}"

# Memory: each benchmark in a fresh process, so the RSS figure is not hidden by
# memory an earlier benchmark freed (see bench/memory_benchmark.cpp).
if ! wanted memory; then
  :
elif ((smoke)); then
  run memory "$bin/memory_benchmark"
else
  parts=()
  for name in $("$bin/memory_benchmark" --benchmark_list_tests); do
    family=${name%%/*}
    part="memory-$family"
    [[ " ${parts[*]} " == *" $part "* ]] && continue
    parts+=("$part")
    run "$part" "$bin/memory_benchmark" "--benchmark_filter=^$family/"
  done
  python3 - "$out" "${parts[@]}" <<'EOF'
import json, sys
out, parts = sys.argv[1], sys.argv[2:]
merged = None
for p in parts:
    with open(f"{out}/{p}.json") as f:
        doc = json.load(f)
    if merged is None:
        merged = doc
    else:
        merged["benchmarks"] += doc["benchmarks"]
with open(f"{out}/memory.json", "w") as f:
    json.dump(merged or {"benchmarks": []}, f, indent=1)
EOF
fi

# Benchmarks other engineers own (e.g. contention_benchmark): run as they are.
for t in "${targets[@]}"; do
  wanted others || break
  case "$t" in ops_benchmark|memory_benchmark|ycsb_benchmark|reclaim_benchmark) continue ;; esac
  [[ -x "$bin/$t" ]] && run "${t%_benchmark}" "$bin/$t"
done
echo "== all benchmarks ran in $(( $(date +%s) - start )) s; JSON in $out"

# What the docs print about the run.
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
flags=$(sed -n 's/^CMAKE_CXX_FLAGS_RELEASE:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
VKV_ROOT="$root" python3 - "$out" "$("$cxx" --version | head -1)" "-std=gnu++20 $flags" "$smoke" "${commands[@]}" <<'EOF'
import json, os, platform, subprocess, sys
out, compiler, flags, smoke, commands = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
cpu = "?"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
with open("/proc/meminfo") as f:
    mem_kb = int(f.readline().split()[1])
osname = "?"
if os.path.exists("/etc/os-release"):
    for line in open("/etc/os-release"):
        if line.startswith("PRETTY_NAME="):
            osname = line.split("=", 1)[1].strip().strip('"')
commit = subprocess.run(["git", "-C", os.environ["VKV_ROOT"], "rev-parse", "--short", "HEAD"],
                        capture_output=True, text=True).stdout.strip()
meta = {
    "cpu": cpu, "cores": os.cpu_count(), "memory": "%.0f GiB" % (mem_kb / 1048576),
    "os": f"{osname}, kernel {platform.release()}", "compiler": compiler, "flags": flags,
    "load": " ".join("%.2f" % x for x in os.getloadavg()),
    "date": subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip(),
    "commit": commit or "?", "smoke": smoke == "1", "commands": commands,
}
with open(f"{out}/meta.json", "w") as f:
    json.dump(meta, f, indent=1)
EOF

if ((charts)) && ! ((smoke)); then
  (cd "$root" && python3 tools/bench-charts.py "$out")
  echo "== charts in docs/charts, tables in docs/benchmarks.md"
fi
