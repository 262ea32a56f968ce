#!/bin/sh
# Fails if the shared library ($1) needs MLIR or LLVM: a dynamic dependency
# on libMLIR/libLLVM, or an undefined symbol from either.
set -eu
lib=$1
status=0
needed=$(readelf -d "$lib" | grep NEEDED) || { echo "readelf found no NEEDED entries in $lib"; exit 1; }
echo "$needed"
if echo "$needed" | grep -i -E 'libMLIR|libLLVM'; then
  echo "FAIL: $lib depends on MLIR or LLVM"
  status=1
fi
undefined=$(nm -D --undefined-only "$lib" | grep -i -E 'mlir|llvm' || true)
if [ -n "$undefined" ]; then
  echo "$undefined"
  echo "FAIL: $lib has undefined MLIR or LLVM symbols"
  status=1
fi
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | grep -v '^kiln_' || true)
if [ -n "$exported" ]; then
  echo "$exported"
  echo "FAIL: $lib exports functions outside the C API"
  status=1
fi
[ $status -eq 0 ] && echo "OK: $lib needs neither MLIR nor LLVM and exports only kiln_*"
exit $status
