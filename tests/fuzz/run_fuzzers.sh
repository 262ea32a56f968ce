#!/usr/bin/env bash
# Fuzzes each parser in turn for SECONDS (default 200), one at a time and
# niced, continuing past findings; crashing inputs land in BUILD_DIR/findings/.
# Usage: tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${BUILD_DIR:-$root/build-fuzz}
seconds=${1:-200}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(idx safetensors torch_pt torch_pickle npy cifar10 png entries)
for target in "${targets[@]}"; do
  mkdir -p "$out/findings/$target" "$out/logs"
  # CIFAR-10 files are whole 3073-byte records; let inputs hold a few.
  maxLen=4096; [[ $target == cifar10 ]] && maxLen=10000
  echo "fuzzing $target for ${seconds}s"
  nice -n 10 "$out/fuzz_$target" "$out/corpus/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=$maxLen \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -artifact_prefix="$out/findings/$target/" >"$out/logs/$target.log" 2>&1
  grep -E '^#[0-9]+' "$out/logs/$target.log" | tail -1
  ls "$out/findings/$target"
done
