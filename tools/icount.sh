#!/usr/bin/env bash
# Instructions per operation, vkv against its peer, counted by callgrind:
# deterministic on any machine, loaded or idle, so CI can hold each operation to a
# budget.
#
#   tools/icount.sh [--check] [--cache] [--build-dir DIR] [--no-build] [--n N]
#                   [--out FILE]
#
# Runs the icount_ops program (bench/icount/icount_ops.cpp) once per (operation, key kind) under
#   valgrind --tool=callgrind --instr-atstart=no
# which counts the operation n times (part 1, dropped: set-up, first touch) and n more
# times (part 2): part 2 / n is (I(2n) - I(n)) / n, the instructions one operation
# costs in steady state. Keys: "cust-<i>" (short, inline in std::string) and 36-char
# UUID text; 10k records; a 40-byte value; one thread. Prints a table (operation, keys,
# vkv Ir/op, peer Ir/op, ratio, the target ratio, budget) and writes it, tab-separated,
# to FILE (default build/icount/icount.tsv).
#
# --check      fails (exit 1) when an operation's count exceeds its budget in
#              bench/icount/budgets.txt by more than 2 %, or has no budget. Budgets
#              only go down: see the file's header.
# --ratchet    after counting, lowers each budget in bench/icount/budgets.txt to the
#              count (rounded up) where the count is lower; never raises one. Commit
#              the file with the change that earned it.
# --cache      instead: D1 misses per read (find, visit; vkv and CHM) at 10k and 1M
#              records, callgrind --cache-sim=yes with a fixed cache geometry, and
#              bytes per record at 1M (vkv, CHM, libcuckoo) from memory_benchmark,
#              each in a fresh process.
# --build-dir  where icount_ops (and memory_benchmark) are built; default
#              build/icount, configured here as a plain Release (-O3) build.
# --no-build   use the binaries in --build-dir as they are (CI: build/plain-gcc).
# --n N        operations per part (default 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

check=0 ratchet=0 cache=0 build=1 build_dir="" n=2000 out=""
while (($#)); do
  case "$1" in
    --check) check=1 ;;
    --ratchet) ratchet=1 ;;
    --cache) cache=1 ;;
    --no-build) build=0 ;;
    --build-dir) build_dir=$2; shift ;;
    --n) n=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "icount: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
build_dir=${build_dir:-build/icount}
out=${out:-$build_dir/icount.tsv}
budgets=$root/bench/icount/budgets.txt

command -v valgrind >/dev/null ||
  { echo "icount: valgrind is missing (tools/install-deps.sh installs it)" >&2; exit 1; }

if ((build)); then
  targets=(icount_ops)
  ((cache)) && targets+=(memory_benchmark)
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    cmake -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKV_BUILD_TESTS=OFF \
      -DVKV_BUILD_TOOLS=OFF >/dev/null
  fi
  cmake --build "$build_dir" --target "${targets[@]}"
fi
bin=$build_dir/bench/icount_ops
[[ -x "$bin" ]] || { echo "icount: $bin is not built (valgrind/callgrind.h missing?)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count <op> <keys> <records> [callgrind flags...]: prints part 2's event totals as
# "name=value" words (Ir always; the cache events with --cache-sim=yes).
count() {
  local op=$1 keys=$2 records=$3
  shift 3
  local file=$work/cg.out
  rm -f "$file"*
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$file" "$@" \
    "$bin" "$op" "$n" --records "$records" --keys "$keys" >"$work/log" 2>&1 ||
    { cat "$work/log" >&2; echo "icount: $op ($keys keys) failed" >&2; return 1; }
  [[ -f "$file.2" ]] || { echo "icount: no part 2 dump for $op" >&2; return 1; }
  awk '/^events:/ { for (i = 2; i <= NF; ++i) name[i - 1] = $i }
       /^summary:/ { for (i = 2; i <= NF; ++i) printf "%s=%s ", name[i - 1], $i }
       END { print "" }' "$file.2"
}
# per_op <words> <event>: that event's count per operation, one decimal (callgrind
# leaves trailing zero counts out of its summary line: a missing event is 0).
per_op() {
  awk -v words="$1" -v want="$2" -v n="$n" 'BEGIN {
    split(words, w, " ")
    for (i in w) { split(w[i], kv, "="); if (kv[1] == want) { printf "%.1f", kv[2] / n; exit } }
    printf "0.0" }'
}

if ((cache)); then
  # A fixed geometry (32 KiB 8-way D1, 8 MiB 16-way LL, 64-byte lines), so the figure
  # is the same on every machine.
  sim=(--cache-sim=yes --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64)
  mkdir -p "$(dirname "$out")"
  printf 'read\trecords\tkeys\tvkv_d1_misses\tchm_d1_misses\tratio\tvkv_ll_misses\tchm_ll_misses\n' \
    >"$out"
  printf '%-6s %8s %5s %14s %14s %6s %12s %12s\n' read records keys "vkv D1 miss" \
    "CHM D1 miss" ratio "vkv LL miss" "CHM LL miss"
  for records in 10000 1000000; do
    for keys in cust uuid; do
      for read in find visit; do
        v=$(count "vkv_$read" "$keys" "$records" "${sim[@]}")
        c=$(count "chm_$read" "$keys" "$records" "${sim[@]}")
        vd=$(awk -v a="$(per_op "$v" D1mr)" -v b="$(per_op "$v" D1mw)" 'BEGIN { printf "%.2f", a + b }')
        cd=$(awk -v a="$(per_op "$c" D1mr)" -v b="$(per_op "$c" D1mw)" 'BEGIN { printf "%.2f", a + b }')
        vl=$(awk -v a="$(per_op "$v" DLmr)" -v b="$(per_op "$v" DLmw)" 'BEGIN { printf "%.2f", a + b }')
        cl=$(awk -v a="$(per_op "$c" DLmr)" -v b="$(per_op "$c" DLmw)" 'BEGIN { printf "%.2f", a + b }')
        ratio=$(awk -v a="$vd" -v b="$cd" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        printf '%-6s %8s %5s %14s %14s %6s %12s %12s\n' "$read" "$records" "$keys" "$vd" "$cd" \
          "$ratio" "$vl" "$cl"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$read" "$records" "$keys" "$vd" "$cd" "$ratio" \
          "$vl" "$cl" >>"$out"
      done
    done
  done
  # Bytes per record at 1M: the memory benchmark's own figure (bench/memory_benchmark.cpp:
  # malloc's in-use growth across the build, "user%010d" keys, a 32-byte value), each
  # structure in a fresh process.
  mem=$build_dir/bench/memory_benchmark
  if [[ -x "$mem" ]]; then
    echo
    printf '%-8s %22s\n' store "heap bytes per record"
    for unit in Vkv Chm Cuckoo; do
      bytes=$(VKV_BENCH_KEYS=1000000 "$mem" "--benchmark_filter=^BM_${unit}_BytesPerRecord/" \
        --benchmark_format=csv 2>/dev/null |
        awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "\"heap_bytes_per_record\"" || $i == "heap_bytes_per_record") col = i }
                 NR > 1 && col { printf "%.1f", $col }')
      printf '%-8s %22s\n' "$unit" "$bytes"
      printf 'bytes_per_record\t1000000\t%s\t%s\n' "$unit" "$bytes" >>"$out"
    done
  else
    echo "icount: $mem is not built; bytes per record skipped" >&2
  fi
  echo "icount: written $out"
  exit 0
fi

# operation  vkv program  peer program  target ratio (- for none)
pairs=(
  "find vkv_find chm_find 1.00"
  "visit vkv_visit chm_visit 0.80"
  "find_many vkv_find_many chm_find -"
  "create vkv_create chm_create 1.50"
  "put vkv_put chm_put 1.30"
  "update_with_version vkv_update_with_version chm_update 1.30"
  "patch_with_version vkv_patch_with_version chm_update -"
  "update_with_retry vkv_update_with_retry chm_rmw 1.30"
  "erase vkv_erase chm_erase -"
  "try_commit vkv_try_commit - -"
)

budget_of() {
  [[ -f "$budgets" ]] || return 0
  awk -v name="$1" '!/^#/ && $1 == name { print $2 }' "$budgets"
}

mkdir -p "$(dirname "$out")"
printf 'op\tkeys\tvkv_ir\tpeer_ir\tratio\ttarget\tbudget\n' >"$out"
printf '%-20s %4s %9s %9s %6s %6s %8s\n' op keys "vkv Ir" "peer Ir" ratio target budget
failed=()
for keys in cust uuid; do
  for pair in "${pairs[@]}"; do
    read -r name vop pop target <<<"$pair"
    v=$(per_op "$(count "$vop" "$keys" 10000)" Ir)
    p=- ratio=-
    if [[ "$pop" != - ]]; then
      p=$(per_op "$(count "$pop" "$keys" 10000)" Ir)
      ratio=$(awk -v a="$v" -v b="$p" 'BEGIN { printf "%.2f", a / b }')
    fi
    budget=$(budget_of "$name.$keys")
    mark=""
    if [[ -z "$budget" ]]; then
      budget=-
      failed+=("$name.$keys: no budget in bench/icount/budgets.txt")
    elif awk -v v="$v" -v b="$budget" 'BEGIN { exit !(v > b * 1.02) }'; then
      mark=" OVER"
      failed+=("$name.$keys: $v Ir/op exceeds its budget $budget by more than 2 %")
    fi
    printf '%-20s %4s %9s %9s %6s %6s %8s%s\n' "$name" "$keys" "$v" "$p" "$ratio" "$target" \
      "$budget" "$mark"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$keys" "$v" "$p" "$ratio" "$target" "$budget" \
      >>"$out"
  done
done
echo "icount: written $out (n = $n per part)"
if ((ratchet)); then
  # Lowers "name budget" lines to ceil(count) where that is lower; the rest unchanged.
  awk -F'\t' 'FNR == NR { if (FNR > 1) { c = $3 + 0; b = (c == int(c)) ? c : int(c) + 1
                                        count[$1 "." $2] = b }; next }
       /^#/ || NF == 0 { print; next }
       { split($0, f, " "); name = f[1]; budget = f[2] + 0
         if ((name in count) && count[name] < budget) budget = count[name]
         printf "%-24s %d\n", name, budget }' "$out" FS=' ' "$budgets" >"$work/budgets"
  if ! cmp -s "$work/budgets" "$budgets"; then
    diff "$budgets" "$work/budgets" || true
    cp "$work/budgets" "$budgets"
    echo "icount: budgets lowered in bench/icount/budgets.txt"
  else
    echo "icount: no budget to lower"
  fi
fi
if ((check)) && ((${#failed[@]})); then
  printf 'icount: %s\n' "${failed[@]}" >&2
  echo "icount: over budget. A cost that went up on purpose needs a reviewed budget change;" \
    "see bench/icount/budgets.txt" >&2
  exit 1
fi
