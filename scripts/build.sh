#!/usr/bin/env bash
# Installs missing dependencies, configures build/ once (Ninja, Release) and builds kiln.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
export CCACHE_DIR="${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}"
if [[ ! -f build/build.ninja ]]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build
