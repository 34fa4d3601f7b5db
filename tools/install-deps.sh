#!/usr/bin/env bash
# The one list of Debian packages vkv needs to build, test, benchmark and chart
# (python3-matplotlib: tools/docs/bench-charts.py; ccache: tools/run-benchmarks.sh and CI
# builds use it as the compiler launcher when it is there; libhiredis-dev: vkv::redis;
# redis-server and redis-tools (redis-cli): the redis tests and benchmarks start their own
# servers and cluster; valgrind: tools/icount.sh counts instructions per operation under
# callgrind, and its valgrind/callgrind.h client requests bracket the counted loop).
# Used by the README's commands and by .ci/run, so a fresh Debian 12 machine and CI
# install exactly the same things. Idempotent: does nothing when all are present.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  clang-14 libclang-rt-14-dev clang-format
  libtbb-dev libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libcuckoo-dev
  ccache python3 python3-matplotlib
  redis-server redis-tools libhiredis-dev
  valgrind
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
