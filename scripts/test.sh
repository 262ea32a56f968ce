#!/usr/bin/env bash
# Builds kiln and runs the whole test suite through ctest; exits with ctest's status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build.sh
exec ctest --test-dir build --output-on-failure -j2
