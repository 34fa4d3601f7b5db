#!/usr/bin/env bash
# Builds vkv in release mode and runs vkv-lab's guided demo (the race, the
# strategies, the HTML/JSON/CSV report). Extra arguments go to vkv-lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset release -DVKV_BUILD_TOOLS=ON >/dev/null
cmake --build --preset release -j "${VKV_JOBS:-$(nproc)}" --target vkv-lab
exec build/release/tools/vkv-lab "$@"
