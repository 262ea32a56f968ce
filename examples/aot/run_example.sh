#!/bin/sh
# Builds and runs classify.c the way a user would, from the CLI's own output:
# train weights, compile LeNet ahead of time, link with cc, then check that
# the C program's accuracy equals `kiln eval`'s and that its training loss
# falls. Usage: run_example.sh KILN LIBDIR OUTDIR (LIBDIR holds
# libkiln_runtime.so). $CC and $CFLAGS, if set, build the program.
set -eu
kiln=$1
libdir=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
include=$here/../../runtime/include
rm -rf "$out"
mkdir -p "$out"
cd "$out"

"$kiln" train --epochs 1 --max-steps 500 --save weights.safetensors >train.log
# predict only, in batches of 1000; and a second object for training, whose
# predict and train_step both take batches of 4 (one binary links only one
# lenet.o: both export lenet_predict).
"$kiln" compile --aot --model lenet --weights weights.safetensors \
  --batch-size 1000 -o eval
"$kiln" compile --aot --model lenet --weights weights.safetensors --train \
  --batch-size 4 -o train
# With CUDA support, a third object embeds the kernels for the GPU too.
modes="eval train"
if "$kiln" --version | grep -q '^CUDA support: yes'; then
  "$kiln" compile --aot --target cuda --model lenet \
    --weights weights.safetensors --batch-size 1000 -o cuda
  modes="$modes cuda"
fi
for mode in $modes; do
  # shellcheck disable=SC2086
  ${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror ${CFLAGS:-} -I"$mode" \
    -I"$include" "$here/classify.c" "$mode/lenet.o" -L"$libdir" \
    -lkiln_runtime -Wl,-rpath,"$libdir" -lm -o "classify_$mode"
done

./classify_eval eval eval/lenet.safetensors | tee eval.log
./classify_train train train/lenet.safetensors | tee train_steps.log

if [ -d cuda ]; then
  # The CUDA object's CPU code gives the same accuracy; on a GPU, so does
  # its CUDA plan, and without one --cuda is one clear error.
  ./classify_cuda eval cuda/lenet.safetensors | tee cuda_cpu.log
  cmp -s cuda_cpu.log eval.log || {
    echo "FAIL: the CUDA object's CPU code classifies differently"
    exit 1
  }
  if ./classify_cuda eval cuda/lenet.safetensors --cuda >cuda_gpu.log 2>&1; then
    cat cuda_gpu.log
    # Logits agree to float rounding, so at most a near tie may flip.
    grep -q '^device: cuda' cuda_gpu.log &&
      awk 'NR == FNR && /^accuracy/ {cpu = $2} NR != FNR && /^accuracy/ {gpu = $2}
           END {d = cpu - gpu; exit !(cpu != "" && gpu != "" && d * d <= 4e-8)}' \
        eval.log cuda_gpu.log || {
      echo "FAIL: on the GPU the accuracy differs from the CPU's"
      exit 1
    }
  else
    cat cuda_gpu.log
    grep -q 'no CUDA driver found\|CUDA cannot start' cuda_gpu.log || {
      echo "FAIL: --cuda failed without saying the GPU is missing"
      exit 1
    }
  fi
fi

# "accuracy: 0.3225" against "... 10000 test images: 32.25 %".
ours=$(awk '/^accuracy: / {printf "%.2f", $2 * 100}' eval.log)
theirs=$("$kiln" eval --weights weights.safetensors |
  awk '/^Accuracy of the network on the 10000 test images:/ {printf "%.2f", $(NF-1)}')
echo "classify: $ours %, kiln eval: $theirs %"
if [ -z "$ours" ] || [ "$ours" != "$theirs" ]; then
  echo "FAIL: the AOT accuracy differs from kiln eval's"
  exit 1
fi

# Each printed loss (the mean over one pass of the same 10 batches) must be
# below the one before.
awk '/^step / {if (n++ && $4 >= last) bad = 1; last = $4}
     END {exit !(n == 5 && !bad)}' train_steps.log || {
  echo "FAIL: the training loss did not fall at every print"
  exit 1
}

strip -o classify_stripped classify_eval
size() { wc -c <"$1" | tr -d ' '; }
echo "sizes: eval/lenet.o $(size eval/lenet.o) B, train/lenet.o" \
  "$(size train/lenet.o) B, libkiln_runtime.so $(size "$libdir/libkiln_runtime.so") B," \
  "classify stripped $(size classify_stripped) B"
if [ "$(size classify_stripped)" -gt 1048576 ]; then
  echo "FAIL: the stripped example binary is over 1 MiB"
  exit 1
fi
echo "OK"
