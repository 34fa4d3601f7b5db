#!/usr/bin/env bash
# The README's test command and what .ci/run runs on a fresh clone. Stages, in order:
#
#   format   clang-format --dry-run --Werror over every tracked .hpp/.cpp
#   gcc      the plain build a user types, no preset, no -Werror, g++:
#              cmake -B build/plain-gcc -DCMAKE_BUILD_TYPE=Release && cmake --build build/plain-gcc
#            It must build everything without a single warning; then every test runs.
#   install  a consumer built with find_package(vkv CONFIG) against an install prefix
#   clang    the same plain build with clang++-14 (build/plain-clang), without a warning
#   asan     every test under ASan+UBSan+LSan (`asan-ubsan` preset, -Werror); the
#            epoch's membarrier() path runs here (TSan cannot model it)
#   tsan     every test under ThreadSanitizer (`tsan` preset: CMAKE_CXX_FLAGS with
#            -fsanitize=thread, -Werror), which also builds the library, the tools and
#            the benchmarks with those flags
#   fuzz     libFuzzer, bounded (tests/fuzz/run.sh, VKV_FUZZ_SECONDS, default 60)
#   bench    every benchmark once in smoke mode, from the plain g++ (Release) build
#   icount   instructions per operation under callgrind (tools/icount.sh --check), from
#            the same build: fails when an operation exceeds its budget in
#            bench/icount/budgets.txt by more than 2 %
#   lab      the README's first command as a newcomer types it (tools/run-lab.sh: the
#            release preset's vkv-lab, then its demo), its report sent to a scratch
#            directory; fails unless the demo exits 0 and writes its HTML, JSON and CSV
#
# Every test stage runs the whole suite: the sanitizer stages must register exactly the
# tests the gcc stage ran (suites too slow there run lighter, see docs/testing.md), a
# stage that runs no test fails, and a skipped test fails. VKV_SKIP="clang asan tsan
# fuzz bench icount install lab" skips stages for local iteration; it is refused under CI=true.
# The stages run, with their times, are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash tools/install-deps.sh

jobs=${VKV_JOBS:-$(nproc)}
export CMAKE_BUILD_PARALLEL_LEVEL=$jobs  # the plain builds use make, serial by default
skip=" ${VKV_SKIP:-} "
if [[ "${CI:-}" == "true" && -n "${VKV_SKIP:-}" ]]; then
  echo "run-tests: VKV_SKIP is for local runs; CI runs every stage" >&2
  exit 2
fi
# ccache when the machine has it (tools/install-deps.sh decides what CI installs);
# VKV_CCACHE=0 turns it off.
launcher=()
if [[ "${VKV_CCACHE:-1}" != 0 ]] && command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

run_started=$(date +%s)
stage_names=()
stage_times=()
current="" current_started=0
finish_stage() {
  if [[ -n "$current" ]]; then
    stage_names+=("$current")
    stage_times+=("$(($(date +%s) - current_started))")
  fi
  current=""
}
stage() {
  finish_stage
  current=$1 current_started=$(date +%s)
  printf '\n==== %s: %s (%s UTC, load %s) ====\n' "$1" "$2" "$(date -u +%H:%M:%S)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}
wants() { [[ "$skip" != *" $1 "* ]]; }
summary() {
  local status=$?
  finish_stage
  printf '\n==== stages run (%s, %s UTC, load %s) ====\n' \
    "$([[ $status == 0 ]] && echo all passed || echo FAILED)" "$(date -u +%H:%M:%S)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  local i
  for i in "${!stage_names[@]}"; do
    printf '  %-8s %5d s\n' "${stage_names[$i]}" "${stage_times[$i]}"
  done
  printf '  total    %5d s\n' "$(($(date +%s) - run_started))"
  [[ -z "${VKV_SKIP:-}" ]] || printf '  skipped on request: %s\n' "$VKV_SKIP"
}
trap summary EXIT

# The names of the tests a build directory registers, sorted.
test_names() { ctest --test-dir "$1" -N | sed -n 's/^ *Test *#[0-9]*: //p' | sort; }

# run_tests <build dir> <ctest args...>: runs ctest and fails when it runs no test or
# skips one (ctest itself counts a skipped test as passed).
run_tests() {
  local dir=$1 log status=0
  shift
  log=$(mktemp)
  ctest --test-dir "$dir" --no-tests=error --output-on-failure "$@" 2>&1 | tee "$log" ||
    status=$?
  if ((status == 0)) && grep -qE '\*\*\*Skipped|\*\*\*Not Run|\((Skipped|Disabled)\)' "$log"; then
    echo "run-tests: tests were skipped or not run in $dir; a skip fails CI" >&2
    status=1
  fi
  if ((status == 0)) && ! grep -qE '^100% tests passed, 0 tests failed out of [1-9]' "$log"; then
    echo "run-tests: no passing test run found in $dir" >&2
    status=1
  fi
  rm -f "$log"
  return "$status"
}

# same_tests <reference dir> <dir>: the second build registers exactly the first's tests.
same_tests() {
  if ! diff <(test_names "$1") <(test_names "$2"); then
    echo "run-tests: $2 does not register the tests of $1 (<: only in $1, >: only in $2)" >&2
    return 1
  fi
}

# plain_build <name> <compiler>: the README's preset-less commands, exactly, and no
# warning in their output (a warning is one -Werror away from someone's broken build).
plain_build() {
  local dir=build/plain-$1 log=build/plain-$1.log
  echo "-- CXX=$2 cmake -B $dir -DCMAKE_BUILD_TYPE=Release && cmake --build $dir"
  mkdir -p build
  { CXX=$2 cmake -B "$dir" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" &&
    cmake --build "$dir"; } >"$log" 2>&1 || { tail -60 "$log"; return 1; }
  if grep -n -A3 'warning:' "$log"; then
    echo "run-tests: the plain $1 build warns (full log: $log)" >&2
    return 1
  fi
  echo "-- $dir: built without a warning"
}

stage format "clang-format --dry-run --Werror"
if ! command -v clang-format >/dev/null; then
  echo "run-tests: clang-format is missing (tools/install-deps.sh installs it)" >&2
  exit 1
fi
mapfile -t sources < <(git ls-files '*.hpp' '*.cpp' '*.h' '*.cc')
((${#sources[@]})) || { echo "run-tests: git ls-files found no source" >&2; exit 1; }
clang-format --dry-run --Werror "${sources[@]}"

stage gcc "plain g++ Release build as a user types it, then every test"
plain_build gcc g++
# The plain build registers vkv::redis's tests only where hiredis, redis-server and
# redis-cli are installed; here they must be (the install script installs them), and the
# other stages must register the same tests (same_tests).
for t in redis_harness_test redis_contract_test redis_fault_test redis_lin_process_test \
         redis_lab_test; do
  test_names build/plain-gcc | grep -qx "$t" ||
    { echo "run-tests: $t is not registered: is vkv::redis built (libhiredis-dev, redis-server, redis-tools)?" >&2; exit 1; }
done
VKV_EXPECT_FENCE=asymmetric run_tests build/plain-gcc -j 2 --timeout 600

if wants install; then
  stage install "find_package(vkv CONFIG) from an install prefix"
  prefix=$(mktemp -d)
  cmake --install build/plain-gcc --prefix "$prefix" >/dev/null
  cmake -S tests/install -B build/install-test -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DVKV_EXPECT_REDIS=ON "${launcher[@]}" >/dev/null
  cmake --build build/install-test -j "$jobs"
  run_tests build/install-test
  rm -rf "$prefix"
fi

if wants clang; then
  stage clang "plain clang++-14 Release build as a user types it"
  plain_build clang clang++-14
fi

if wants asan; then
  stage asan "every test under ASan + UBSan + LSan (membarrier fences)"
  cmake --preset asan-ubsan "${launcher[@]}" >/dev/null
  cmake --build --preset asan-ubsan -j "$jobs"
  same_tests build/plain-gcc build/asan-ubsan
  # VKV_EXPECT_FENCE: epoch_fence_test fails unless the epoch really uses membarrier().
  VKV_EXPECT_FENCE=asymmetric ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    run_tests build/asan-ubsan -j 2 --timeout 900
fi

if wants tsan; then
  stage tsan "every test under ThreadSanitizer (symmetric fences); benchmarks built with it"
  cmake --preset tsan "${launcher[@]}" >/dev/null
  cmake --build --preset tsan -j "$jobs"
  same_tests build/plain-gcc build/tsan
  VKV_EXPECT_FENCE=symmetric \
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp" \
    run_tests build/tsan -j 2 --timeout 900
fi

# Scripts run through bash: a lost run bit must not turn a stage into a silent no-op.
if wants fuzz; then
  stage fuzz "libFuzzer differential fuzzing, ${VKV_FUZZ_SECONDS:-60} s"
  bash tests/fuzz/run.sh "${VKV_FUZZ_SECONDS:-60}"
fi

if wants bench; then
  stage bench "every benchmark once (smoke), from the plain g++ Release build"
  bash tools/run-benchmarks.sh --smoke --no-build --build-dir build/plain-gcc
fi

if wants icount; then
  stage icount "instructions per operation within budget (callgrind), plain g++ Release build"
  bash tools/icount.sh --check --no-build --build-dir build/plain-gcc
fi

if wants lab; then
  stage lab "tools/run-lab.sh, the README's demo command, as a newcomer runs it"
  lab_dir=$(mktemp -d)
  bash tools/run-lab.sh --out "$lab_dir" | tail -60
  for f in vkv-lab-report.html vkv-lab-report.json vkv-lab-report.csv; do
    [[ -s "$lab_dir/$f" ]] || { echo "run-tests: the lab demo wrote no $f" >&2; exit 1; }
  done
  rm -rf "$lab_dir"
fi
