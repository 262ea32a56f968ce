#!/usr/bin/env bash
# ctest gpu_check_script: scripts/gpu-check.sh prepare, then its run with every
# "GPU" model on the CPU and 100 steps an epoch, so the script, its three AOT
# objects linked into one program and its table are tested without a GPU.
# usage: gpu_check_cpu.sh KILN RUNTIME_DIR FOLDER
set -euo pipefail
export KILN=$1 KILN_RUNTIME_DIR=$2 KILN_GPU_CHECK_DIR=$3
script="$(dirname "${BASH_SOURCE[0]}")/../../scripts/gpu-check.sh"
bash "$script" prepare >/dev/null
bash "$script" --cpu --max-steps 100 | tee "$KILN_GPU_CHECK_DIR/run.txt"
grep -Eq '^compare CPU vs CUDA +max rel err 0 ' "$KILN_GPU_CHECK_DIR/report.txt"
grep -Eq '^train img/s, batch 256 +kiln [0-9]+' "$KILN_GPU_CHECK_DIR/report.txt"
grep -Eq '^CPU time per step, b. 256 +[0-9.]+ us; in place [0-9.]+ us' "$KILN_GPU_CHECK_DIR/report.txt"
