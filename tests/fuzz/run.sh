#!/usr/bin/env bash
# Builds the differential fuzzer with the `fuzz` preset (clang++-14, libFuzzer,
# ASan+UBSan) and runs it for a bounded time on the committed seed corpus.
#
#   tests/fuzz/run.sh [seconds]        default 60
#
# New inputs go to a temporary directory, so the committed corpus stays as it is;
# set VKV_FUZZ_KEEP=dir to keep them (e.g. to minimise and add a few to the corpus).
# Extra libFuzzer flags can be passed in VKV_FUZZ_FLAGS (e.g. "-jobs=2 -workers=2").
# A crash leaves its reproducer (crash-*) in the build directory and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
build_dir=${VKV_FUZZ_BUILD_DIR:-build/fuzz}

# The fuzz preset turns VKV_BUILD_TESTS off so that nothing but fuzzers is built; the
# fuzzer is registered in tests/fuzz/CMakeLists.txt, so the tests directory must be
# configured (only the store_fuzzer target is built).
cmake --preset fuzz -B "$build_dir" -DVKV_BUILD_TESTS=ON >/dev/null
cmake --build "$build_dir" -j "${VKV_JOBS:-2}" --target store_fuzzer

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
new_inputs=${VKV_FUZZ_KEEP:-$work/new}
mkdir -p "$new_inputs"

# The first corpus directory receives new inputs; the seeds are only read.
# shellcheck disable=SC2086
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  "$build_dir/tests/fuzz/store_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$build_dir/" ${VKV_FUZZ_FLAGS:-} "$new_inputs" tests/fuzz/corpus
