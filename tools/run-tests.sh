#!/usr/bin/env bash
# Builds vkv and runs every test: the unit and concurrency suites, the same
# concurrency tests under ThreadSanitizer and under ASan+UBSan (+LeakSanitizer),
# a bounded libFuzzer run, a consumer built against the *installed* package, and
# every benchmark once in smoke mode. This is the README's test command and what
# .ci/run runs. Stages can be skipped for local iteration: VKV_SKIP="tsan asan fuzz bench".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash tools/install-deps.sh

jobs=${VKV_JOBS:-$(nproc)}
skip=" ${VKV_SKIP:-} "
stage() { printf '\n==== %s (%s) ====\n' "$1" "$(date -u +%H:%M:%S)"; }
wants() { [[ "$skip" != *" $1 "* ]]; }

stage "format check"
if command -v clang-format >/dev/null; then
  mapfile -t sources < <(git ls-files '*.hpp' '*.cpp' '*.h' '*.cc' 2>/dev/null || true)
  if ((${#sources[@]})); then clang-format --dry-run --Werror "${sources[@]}"; fi
fi

stage "dev build"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"

stage "unit and concurrency tests"
ctest --preset dev

if wants install; then
  stage "install test (find_package(vkv CONFIG) from an install prefix)"
  prefix=$(mktemp -d)
  cmake --install build/dev --prefix "$prefix" >/dev/null
  cmake -S tests/install -B build/install-test -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build build/install-test -j "$jobs"
  ctest --test-dir build/install-test --output-on-failure
  rm -rf "$prefix"
fi

if wants tsan; then
  stage "ThreadSanitizer: concurrency tests"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs" --target vkv_concurrency_tests
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp" \
    ctest --preset tsan -L concurrency
fi

if wants asan; then
  stage "ASan + UBSan + LSan: concurrency tests"
  cmake --preset asan-ubsan >/dev/null
  cmake --build --preset asan-ubsan -j "$jobs" --target vkv_concurrency_tests
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ctest --preset asan-ubsan -L concurrency
fi

if wants fuzz && [ -x tests/fuzz/run.sh ]; then
  stage "libFuzzer: differential fuzzing (bounded)"
  tests/fuzz/run.sh "${VKV_FUZZ_SECONDS:-60}"
fi

if wants bench && [ -x tools/run-benchmarks.sh ]; then
  stage "benchmarks: smoke run"
  # The dev build already holds every benchmark binary: smoke-run those (no rebuild).
  tools/run-benchmarks.sh --smoke --no-build --build-dir build/dev
fi

stage "all tests passed"
