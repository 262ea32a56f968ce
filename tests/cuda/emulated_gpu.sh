#!/usr/bin/env bash
# ctest emulated_gpu_compare: the gpu-check program (AOT CUDA objects, libkiln_runtime)
# runs its "compare" on a stand-in GPU. The fake driver loads, instead of a
# cubin, the same bundle's CUDA source built for the host with CudaShim.h, and
# each cuLaunchKernel runs that kernel over the real grid and block. So the
# AOT bundle, its plan, the runtime's CUDA executor and the kernels are checked
# end to end against the CPU path (1e-4 relative) without a GPU.
# usage: emulated_gpu.sh FOLDER FAKE_DRIVER HOST_CXX SHIM_HEADER
# FOLDER is the one gpu_check_script prepared.
set -euo pipefail
folder=$1 driver=$2 cxx=$3 shim=$4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$folder/emulated"
rm -rf "$work" && mkdir -p "$work"
# The check model's bundle is the one trained with lr 1 (gpu-check.sh).
python3 "$here/shim_source.py" bundle "$folder/gpu_check" "$work/check.cpp" "lr 1,"
"$cxx" -std=c++17 -O1 -fPIC -shared -w -include "$shim" -x c++ \
  "$work/check.cpp" -o "$work/check.so"
cd "$folder"
KILN_CUDA_DRIVER="$driver" FAKE_CUDA_KERNELS="$work/check.so" \
  LD_LIBRARY_PATH=".${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  ./gpu_check compare . | tee "$work/compare.txt"
grep -q 'kiln fake GPU' "$work/compare.txt"
grep -Eq '^result: compare .*pass=1' "$work/compare.txt"

# The bench on the idle GPU (launches and copies return at once): the enqueue
# of a caller's batch and of one written where kiln_model_train_inputs says,
# through the AOT bundle's C API, at batch 4 and 256.
KILN_CUDA_DRIVER="$driver" FAKE_CUDA_IDLE=1 \
  LD_LIBRARY_PATH=".${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  ./gpu_check bench . | tee "$work/bench.txt"
for batch in 4 256; do
  grep -Eq "^result: bench batch=$batch images_per_s=[0-9]+ overhead_us=[0-9.]+ staged_us=[0-9.]+$" \
    "$work/bench.txt"
done
