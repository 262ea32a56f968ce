#!/usr/bin/env bash
# ctest emulated_jit_train: `kiln train --device cuda`, the JIT path (kiln
# compiles the model, NVRTC the kernels, the runtime's CUDA executor runs the
# steps as graphs), on the fake driver's emulated GPU, against the same
# training on the CPU: the same running losses, test accuracy and, to 1e-4
# relative, the same trained weights and momentum.
#
# Then kiln eval --device cuda of the weights trained there, and of the program
# file saved there, against kiln eval on the CPU: the same accuracies; and
# kiln train --resume from each side's checkpoint: the same again.
#
# A first run on the fake driver's idle GPU (FAKE_CUDA_IDLE=1) compiles the
# kernels into an empty kernel cache, which keeps the source beside the cubin
# (HASH.cu); that source, built for the host with CudaShim.h, is what the
# emulated GPU of the second run executes (FAKE_CUDA_KERNELS). The data set is
# the first 12 training and 4 test images of Fashion-MNIST: emulated kernels
# run at a few images a second.
# usage: emulated_jit.sh KILN FAKE_DRIVER HOST_CXX SHIM_HEADER WORK
set -euo pipefail
kiln=$1 driver=$2 cxx=$3 shim=$4 work=$5
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data=${KILN_DATA_DIR:-/usr/share/datasets/fashion-mnist}
rm -rf "$work" && mkdir -p "$work/data"

python3 - "$data" "$work/data" <<'EOF'
import gzip, struct, sys
source, target = sys.argv[1], sys.argv[2]
for split, count in (("train", 12), ("t10k", 4)):
    with gzip.open(f"{source}/{split}-images-idx3-ubyte.gz") as f:
        magic, _, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = f.read(count * rows * cols)
    with gzip.open(f"{target}/{split}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", magic, count, rows, cols) + pixels)
    with gzip.open(f"{source}/{split}-labels-idx1-ubyte.gz") as f:
        magic, _ = struct.unpack(">II", f.read(8))
        labels = f.read(count)
    with gzip.open(f"{target}/{split}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", magic, count) + labels)
EOF

export KILN_CUDA_DRIVER="$driver"
unset FAKE_CUDA_KERNELS FAKE_CUDA_IDLE

# emulate NAME ARGS...: kiln ARGS --device cuda on the emulated GPU, output in
# NAME.txt and NAME.err; NAME's own kernel cache is filled by an idle run first.
emulate() {
  local name=$1
  shift
  export KILN_CACHE_DIR="$work/cache-$name"
  FAKE_CUDA_IDLE=1 "$kiln" "$@" --device cuda >"$work/$name-idle.txt" 2>&1 || {
    cat "$work/$name-idle.txt"
    exit 1
  }
  local sources=("$KILN_CACHE_DIR"/cuda/*.cu)
  [[ ${#sources[@]} == 1 && -f ${sources[0]} ]] || {
    echo "emulated_jit: expected one kept source in the kernel cache, got: ${sources[*]}" >&2
    exit 1
  }
  python3 "$here/shim_source.py" cu "${sources[0]}" "$work/$name.cpp"
  "$cxx" -std=c++17 -O1 -fPIC -shared -w -include "$shim" -x c++ \
    "$work/$name.cpp" -o "$work/$name.so"
  local status=0
  FAKE_CUDA_KERNELS="$work/$name.so" "$kiln" "$@" --device cuda \
    >"$work/$name.txt" 2>"$work/$name.err" || status=$?
  cat "$work/$name.err" "$work/$name.txt"
  ((status == 0)) || exit 1
  grep -q 'kiln fake GPU' "$work/$name.err" "$work/$name.txt"
}

train=(train --data "$work/data" --epochs 1 --batch-size 4 --log-every 1)
emulate cuda "${train[@]}" --save "$work/cuda.safetensors" \
  --save-program "$work/cuda.kiln"
"$kiln" "${train[@]}" --device cpu --save "$work/cpu.safetensors" \
  >"$work/cpu.txt" 2>"$work/cpu.err"
grep -q 'for cuda:0 (kiln fake GPU, sm_90)' "$work/cuda.err"

# kiln eval of the trained weights, predict only, on both.
evaluate=(eval --data "$work/data" --batch-size 4 --weights "$work/cuda.safetensors")
emulate eval-cuda "${evaluate[@]}"
"$kiln" "${evaluate[@]}" --device cpu >"$work/eval-cpu.txt" 2>"$work/eval-cpu.err"
diff "$work/eval-cpu.txt" "$work/eval-cuda.txt"
# ... and of the program file trained there (kiln::loadProgram on the GPU).
emulate program-cuda eval --data "$work/data" --program "$work/cuda.kiln"
grep -q "loaded $work/cuda.kiln for cuda:0 (kiln fake GPU" "$work/program-cuda.err"
diff "$work/eval-cpu.txt" "$work/program-cuda.txt"

# Two checkpoints of the same training agree: compare.py CPU CUDA STEPS.
cat >"$work/compare.py" <<'EOF'
import json, struct, sys

def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    header.pop("__metadata__", None)
    out = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        raw = data[8 + size + start:8 + size + end]
        code = {"F32": "f", "I64": "q"}[entry["dtype"]]
        out[name] = struct.unpack("<%d%s" % (len(raw) // struct.calcsize(code), code), raw)
    return out

cpu, cuda = tensors(sys.argv[1]), tensors(sys.argv[2])
if sorted(cpu) != sorted(cuda) or not cpu:
    sys.exit(f"emulated_jit: tensors differ: {sorted(cpu)} vs {sorted(cuda)}")
steps = (int(sys.argv[3]),)
if cpu["optimizer.step"] != steps or cuda["optimizer.step"] != steps:
    sys.exit(f"emulated_jit: steps {cpu['optimizer.step']} vs {cuda['optimizer.step']}, not {steps[0]}")
# A momentum buffer sums the gradients of the steps: 1e-4 of its largest
# value. A weight moved by lr (0.001) times that: 1e-6 of its largest value.
worst = {}
for name in sorted(cpu):
    if name == "optimizer.step":
        continue
    kind = "momentum" if name.startswith("optimizer.") else "weights"
    limit = 1e-4 if kind == "momentum" else 1e-6
    scale = max(max(abs(v) for v in cpu[name]), 1e-30)
    err = max(abs(a - b) for a, b in zip(cpu[name], cuda[name])) / scale
    worst[kind] = max(worst.get(kind, 0.0), err)
    if err > limit:
        sys.exit(f"emulated_jit: {name} differs by {err:.3g} of its largest value (limit {limit:g})")
print("emulated_jit: %s: %d tensors agree; max rel err %.3g in momentum buffers, %.3g in weights"
      % (sys.argv[2], len(cpu), worst["momentum"], worst["weights"]))
EOF

# Losses and accuracy print alike; the timing and file lines differ.
same_run() {
  diff <(grep -Ev '^(trained|saved|resumed) ' "$1") <(grep -Ev '^(trained|saved|resumed) ' "$2")
}
same_run "$work/cpu.txt" "$work/cuda.txt"
python3 "$work/compare.py" "$work/cpu.safetensors" "$work/cuda.safetensors" 3

# Resuming from those checkpoints for another epoch: the optimizer state goes
# back onto the GPU (Program::pushToDevice).
resume=(train --data "$work/data" --epochs 1 --batch-size 4 --log-every 1)
emulate resumed "${resume[@]}" --resume "$work/cuda.safetensors" \
  --save "$work/cuda-resumed.safetensors"
grep -q 'resumed from .* after 3 steps' "$work/resumed.err"
"$kiln" "${resume[@]}" --device cpu --resume "$work/cpu.safetensors" \
  --save "$work/cpu-resumed.safetensors" >"$work/cpu-resumed.txt" 2>"$work/cpu-resumed.err"
same_run "$work/cpu-resumed.txt" "$work/resumed.txt"
python3 "$work/compare.py" "$work/cpu-resumed.safetensors" \
  "$work/cuda-resumed.safetensors" 6
