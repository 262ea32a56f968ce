#!/usr/bin/env bash
# Builds one libFuzzer binary per file parser into build-fuzz/ with clang,
# outside the CMake tree (which builds with g++), plus seed corpora.
# Usage: tests/fuzz/build_fuzzers.sh [BUILD_DIR]   (default: build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(realpath -m "${1:-$root/build-fuzz}")
cxx=${CXX_FUZZ:-clang++-14}
# kiln's own version, so files recording it (program files) get past the
# version check to the sections after it.
version=$(sed -n 's/^project(kiln VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I "$root/runtime/include"
       -I "$root/kernels/include" -I "$root/runtime/lib" -DKILN_VERSION=\"$version\")
targets=(idx safetensors torch_pt torch_pickle npy cifar10 png entries program_file)

mkdir -p "$out/obj"
# Every runtime source but the C API: the linker keeps what a parser needs.
sources=$(cd "$root/runtime/lib" && ls *.cpp data/*.cpp util/*.cpp | grep -v '^CApi.cpp$')
for src in $sources; do
  obj="$out/obj/${src//\//_}.o"
  if [[ ! -f $obj || $root/runtime/lib/$src -nt $obj ]]; then
    echo "$root/runtime/lib/$src $obj"
  fi
done | xargs -r -P "${JOBS:-2}" -n 2 sh -c \
  'echo "compiling $0"; exec '"$cxx ${flags[*]@Q}"' -fsanitize=fuzzer-no-link -c "$0" -o "$1"'
"$cxx" "${flags[@]}" -c "$root/tests/fuzz/FuzzTargets.cpp" -o "$out/obj/FuzzTargets.o"
rm -f "$out/libkiln_runtime_fuzz.a"
ar rcs "$out/libkiln_runtime_fuzz.a" "$out"/obj/*.o

for target in "${targets[@]}"; do
  echo "linking fuzz_$target"
  "$cxx" "${flags[@]}" -DKILN_FUZZ_TARGET=\""$target"\" \
    "$root/tests/fuzz/FuzzMain.cpp" "$out/libkiln_runtime_fuzz.a" \
    -lz -lfmt -lpng -o "$out/fuzz_$target"
  # Seeds: the committed ones plus the golden files of that format.
  mkdir -p "$out/corpus/$target"
  cp -f "$root/tests/fuzz/seeds/$target"/* "$out/corpus/$target/" 2>/dev/null || true
done
# Golden files of each format, the small ones only: a large seed slows every run.
golden() { find "$root/tests/golden" -name "$1" -size -16k -exec cp -f {} "$out/corpus/$2/" \; ; }
golden '*.safetensors' safetensors
golden '*.pt' torch_pt
golden '*.npy' npy
echo "fuzzers in $out: ${targets[*]/#/fuzz_}"
