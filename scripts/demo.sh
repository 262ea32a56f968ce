#!/usr/bin/env bash
# Builds kiln and trains LeNet on Fashion-MNIST with the blitz recipe; extra arguments go to `kiln train`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/build.sh
exec build/tools/kiln train "$@"
