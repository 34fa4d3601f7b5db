#!/usr/bin/env bash
# The one command behind every figure in docs/benchmarks.md and docs/choosing.md:
# builds the benchmark binaries (Release), runs them all once, records where and how
# (meta.json: commit, clean tree or not, machine, load before and after, compiler,
# build type and flags, every command), then tools/docs/bench-charts.py draws
# docs/charts/*.svg and rewrites the generated blocks of both pages.
#
#   tools/run-benchmarks.sh [--smoke] [--out DIR] [--build-dir DIR] [--no-build]
#                           [--no-docs] [--only LIST]
#
# --smoke      every benchmark once, tiny (VKV_BENCH_SMOKE=1, 2000 keys, 10 ms cells):
#              checks that nothing rots, charts and pages included. The pages and
#              charts go to OUT/docs/, never to docs/. .ci/run calls this.
# --out DIR    results directory (default build/bench-results/<UTC time>, or
#              build/bench-results/smoke); build/ is git-ignored.
# --build-dir  build directory (default build/release, the release preset's; a
#              directory of your own is configured Release, tests off).
# --no-build   use the binaries already in the build directory.
# --no-docs    JSON only: do not run tools/docs/bench-charts.py.
# --only LIST  comma-separated subset of ops,memory,ycsb,reclaim,transaction,batch,cache,
#              contention,grid,redis,others (default all). redis: bench/redis_benchmark.cpp,
#              which starts its own redis-server and Redis Cluster on loopback (built only
#              where vkv::redis is: hiredis found). The pages are rewritten only from
#              a full run; a partial run writes its pages under OUT/docs/ like --smoke.
#
# A full run is sized to stay under 25 minutes on the 2-core VM of docs/benchmarks.md
# (estimated from benchmark counts: ~13 minutes of benchmarks, plus the build); run it on
# an otherwise idle machine. The setup block records each part's time.
# Knobs for the contention binary (bench/contention_benchmark.cpp): VKV_CONTENTION_MS
# (cell length, default 150), VKV_CONTENTION_FILTER (which sweep cells; default below),
# VKV_GRID_MS (retry-defaults grid cell length, default 50).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
invocation="tools/run-benchmarks.sh${*:+ $*}"
smoke=0 build=1 docs=1 out="" build_dir="" only="ops,memory,ycsb,reclaim,transaction,batch,cache,contention,grid,redis,others"
all_parts=$only
while (($#)); do
  case "$1" in
    --smoke) smoke=1 ;;
    --out) out="$2"; shift ;;
    --build-dir) build_dir="$2"; shift ;;
    --no-build) build=0 ;;
    --no-docs|--no-charts) docs=0 ;;
    --only) only="$2"; shift ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run-benchmarks: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
wanted() { [[ ",$only," == *",$1,"* ]]; }

# Build: the benchmark targets only, at low priority, through ccache when there is one.
known=(ops_benchmark memory_benchmark ycsb_benchmark reclaim_benchmark transaction_benchmark
       batch_benchmark cache_benchmark contention_benchmark redis_benchmark)
build_dir=${build_dir:-$root/build/release}
targets=("${known[@]}")
if ((build)); then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  if [[ "$build_dir" == "$root/build/release" ]]; then
    (cd "$root" && cmake --preset release "${launcher[@]}" >/dev/null)
  else
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKV_BUILD_TESTS=OFF \
      "${launcher[@]}" >/dev/null
  fi
  # Benchmark binaries other areas add (bench/cmake/*.cmake) are built and run too.
  for t in $(cmake --build "$build_dir" --target help | sed -n 's/^\([a-z_]*_benchmark\):.*/\1/p'); do
    [[ " ${targets[*]} " == *" $t "* ]] || targets+=("$t")
  done
  # redis_benchmark exists only where vkv::redis is built (hiredis found).
  available=$(cmake --build "$build_dir" --target help | sed -n 's/^\([a-z_]*_benchmark\):.*/\1/p')
  for i in "${!targets[@]}"; do
    [[ $'\n'"$available"$'\n' == *$'\n'"${targets[$i]}"$'\n'* ]] || unset 'targets[i]'
  done
  nice -n 10 cmake --build "$build_dir" -j"${VKV_BUILD_JOBS:-2}" --target "${targets[@]}"
else
  for f in "$build_dir"/bench/*_benchmark; do
    t=$(basename "$f")
    [[ -x "$f" && " ${targets[*]} " != *" $t "* ]] && targets+=("$t")
  done
fi
build_dir=$(cd "$build_dir" && pwd)
bin="$build_dir/bench"

if [[ -z "$out" ]]; then
  if ((smoke)); then out="$root/build/bench-results/smoke"; else out="$root/build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"; fi
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.json "$out"/*.csv "$out"/*.txt

# Settings of a full run: repetitions (the pages show the median and the spread),
# minimum time per repetition, randomly interleaved repetitions so that vkv and its
# peers see the same mix of machine load.
common=(--benchmark_format=console --benchmark_out_format=json)
if ((smoke)); then
  export VKV_BENCH_KEYS=${VKV_BENCH_KEYS:-2000} VKV_BENCH_SMOKE=1
  quick=(--benchmark_min_time=0.01)
  ops_args=("${quick[@]}") ycsb_args=("${quick[@]}") micro_args=("${quick[@]}")
  contention_filter='^BM_Contention|^BM_BackoffWait/' grid_filter='^BM_RetryDefaults/'
else
  unset VKV_BENCH_KEYS VKV_BENCH_SMOKE
  rep=(--benchmark_enable_random_interleaving=true)
  ops_args=(--benchmark_repetitions=5 --benchmark_min_time=0.2 "${rep[@]}")
  ycsb_args=(--benchmark_repetitions=3 --benchmark_min_time=0.25 "${rep[@]}")
  micro_args=(--benchmark_repetitions=3 --benchmark_min_time=0.2 "${rep[@]}")
  # The sweep's cells for vkv's default policy, no-backoff, adaptive and the
  # pessimistic baseline, at 1, 2, 4 and 8 threads (a sixth of the strategy x thread grid).
  # The million-key cells are left out: each builds a million records. The window sweep
  # (BM_ContentionWindow) and the backoff wait modes (BM_BackoffWait) run whole.
  contention_filter=${VKV_CONTENTION_FILTER:-'^BM_Contention/(full-jitter|no-backoff|adaptive|pessimistic)/threads:(1|2|4|8)/keys:(1|16|1024)/|^BM_ContentionWindow/|^BM_BackoffWait/'}
  grid_filter='^BM_RetryDefaults/'
fi

# A benchmark binary that fails is reported, the rest still run, the pages say so, and the
# script exits non-zero at the end.
commands=() timings=() failures=()
run() {  # run NAME BINARY [ENV=VALUE...] -- ARGS...
  local name=$1 binary=$2 envs=()
  shift 2
  while [[ "$1" != "--" ]]; do envs+=("$1"); shift; done
  shift
  [[ -x "$binary" ]] || { echo "== $name: $binary not built, skipped" >&2; return 0; }
  local cmd=("$binary" "${common[@]}" --benchmark_out="$out/$name.json" "$@")
  local shown="${envs[*]:+${envs[*]} }${cmd[*]}"
  commands+=("${shown//$root\//}")
  echo "== $name: $shown"
  local t0=$SECONDS status=0
  env "${envs[@]}" "${cmd[@]}" || status=$?
  timings+=("$name $((SECONDS - t0)) s")
  ((status == 0)) || { echo "== $name FAILED (exit $status)" >&2; failures+=("$name (exit $status)"); }
}

# What the figures are of: the commit, and the tracked files (docs/ aside) that differ from it.
commit=$(git -C "$root" rev-parse --short=10 HEAD)
dirty=$(git -C "$root" status --porcelain --untracked-files=no | grep -v ' docs/' | sed 's/^...//' | tr '\n' ' ' || true)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
wanted ops && run ops "$bin/ops_benchmark" -- "${ops_args[@]}"
wanted reclaim && run reclaim "$bin/reclaim_benchmark" -- "${micro_args[@]}"
wanted transaction && run transaction "$bin/transaction_benchmark" -- "${micro_args[@]}"
wanted batch && run batch "$bin/batch_benchmark" -- "${micro_args[@]}"
wanted cache && run cache "$bin/cache_benchmark" -- "${micro_args[@]}"
wanted ycsb && run ycsb "$bin/ycsb_benchmark" -- "${ycsb_args[@]}"
# vkv::redis against hand-written WATCH/MULTI and Lua check-and-set (it starts and kills its
# own servers). A full run: the micro settings (~50 cells x 3 x 0.2 s, plus the cluster's setup).
wanted redis && run redis "$bin/redis_benchmark" -- "${micro_args[@]}"

# Memory: bytes per record each in a fresh process (memory an earlier benchmark freed
# would hide RSS growth, see bench/memory_benchmark.cpp); the storms together.
if wanted memory && [[ -x "$bin/memory_benchmark" ]]; then
  if ((smoke)); then
    run memory "$bin/memory_benchmark" --
  else
    families=$("$bin/memory_benchmark" --benchmark_list_tests | sed 's|/.*||' | sort -u)
    for f in $families; do
      case "$f" in *BytesPerRecord) run "memory-$f" "$bin/memory_benchmark" -- "--benchmark_filter=^$f/" ;; esac
    done
    run memory-storms "$bin/memory_benchmark" -- '--benchmark_filter=-BytesPerRecord/' "${micro_args[@]}"
  fi
fi

# Contention sweep cells, the retry-defaults grid, and the contention binary's
# micro-benchmarks (stats counters, adaptive mode on a cold key).
if [[ -x "$bin/contention_benchmark" ]]; then
  ms=${VKV_CONTENTION_MS:-150}
  ((smoke)) && ms=10
  wanted contention && run contention "$bin/contention_benchmark" VKV_CONTENTION_MS="$ms" -- "--benchmark_filter=$contention_filter"
  # The sweep's own report of its window targets (bench/window_targets.py), when
  # the sweep has one: its output becomes the 'window-targets' block as printed.
  targets_py="$root/bench/window_targets.py"
  if wanted contention && [[ -f "$out/contention.json" && -f "$targets_py" ]]; then
    commands+=("python3 ${targets_py#$root/} ${out#$root/}/contention.json > ${out#$root/}/window-targets.txt")
    python3 "$targets_py" "$out/contention.json" >"$out/window-targets.txt" || echo "window_targets.py failed" >&2
  fi
  wanted grid && run grid "$bin/contention_benchmark" VKV_CONTENTION_MS="${VKV_GRID_MS:-50}" -- "--benchmark_filter=$grid_filter"
  wanted contention && run contention-micro "$bin/contention_benchmark" -- '--benchmark_filter=-^BM_(Contention|ContentionWindow|BackoffWait|RetryDefaults)/' "${micro_args[@]}"
fi

# Benchmark binaries other areas add: run as they are, with the micro settings.
if wanted others; then
  for t in "${targets[@]}"; do
    [[ " ${known[*]} " == *" $t "* ]] || run "${t%_benchmark}" "$bin/$t" -- "${micro_args[@]}"
  done
fi
seconds=$(( $(date +%s) - start ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== all benchmarks ran in $seconds s; JSON in $out"

# Provenance, written by the run itself; tools/docs/bench-charts.py prints it in every block.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt"; }
build_type=$(cache CMAKE_BUILD_TYPE)
cxx=$(cache CMAKE_CXX_COMPILER)
type_upper=$(tr '[:lower:]' '[:upper:]' <<<"$build_type")
VKVMETA_INVOCATION=$invocation VKVMETA_SMOKE=$smoke VKVMETA_SECONDS=$seconds \
VKVMETA_COMMIT=$commit VKVMETA_COMMIT_DATE=$(git -C "$root" log -1 --format=%cI "$commit") \
VKVMETA_DIRTY=$dirty VKVMETA_DATE=$(date -u '+%Y-%m-%d %H:%M UTC') VKVMETA_NPROC=$(nproc) \
VKVMETA_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) \
VKVMETA_MEM_KB=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) \
VKVMETA_OS="$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r)" \
VKVMETA_LOAD_BEFORE=$load_before VKVMETA_LOAD_AFTER=$load_after VKVMETA_COMPILER=$("$cxx" --version | head -1) \
VKVMETA_BUILD_TYPE=$build_type VKVMETA_FLAGS="$(cache CMAKE_CXX_FLAGS) $(cache "CMAKE_CXX_FLAGS_$type_upper")" \
VKVMETA_BUILD_DIR=${build_dir#"$root"/} \
VKVMETA_TIMINGS=$(IFS=,; echo "${timings[*]}") VKVMETA_FAILURES=$(IFS=,; echo "${failures[*]}") \
python3 - "$out/meta.json" "${commands[@]}" <<'EOF'
import json, os, sys
e = {k[8:].lower(): v for k, v in os.environ.items() if k.startswith("VKVMETA_")}
e.update(smoke=e["smoke"] == "1", seconds=int(e["seconds"]), nproc=int(e["nproc"]),
         dirty=e["dirty"].split(), flags=" ".join(e["flags"].split()), timings=e["timings"].split(","),
         failures=[f for f in e["failures"].split(",") if f],
         memory_gib=round(int(e.pop("mem_kb")) / 1048576, 1), commands=sys.argv[2:])
json.dump(e, open(sys.argv[1], "w"), indent=1)
EOF

if ((docs)); then
  pages=()
  if ((smoke)) || [[ "$only" != "$all_parts" ]]; then pages=(--docs "$out/docs"); fi
  # The charts need matplotlib (Debian python3-matplotlib, tools/install-deps.sh): take
  # the system Python when the python3 on PATH (a pyenv, a venv) lacks it.
  py=python3
  python3 -c 'import matplotlib' 2>/dev/null || py=/usr/bin/python3
  (cd "$root" && "$py" tools/docs/bench-charts.py "$out" "${pages[@]}")
fi
if ((${#failures[@]})); then
  echo "run-benchmarks: failed: ${failures[*]}" >&2
  exit 1
fi
