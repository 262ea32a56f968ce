#!/usr/bin/env python3
"""Writes a kiln CUDA source with the kernel table tests/cuda/CudaShim.h needs,
so that the fake driver can run its kernels on the host (FAKE_CUDA_KERNELS).

usage: shim_source.py bundle BINARY OUT.cpp TEXT...
         the source of the one kiln bundle embedded in BINARY whose source
         contains every TEXT (e.g. "lr 1,"), with the kernels its plan launches;
       shim_source.py cu SOURCE.cu OUT.cpp
         a source as kiln's JIT kept it in its kernel cache (HASH.cu), with
         every kernel it defines.
"""
import re
import sys


def fail(message):
    sys.exit("shim_source.py: " + message)


def bundles(data):
    """Yields (source, kernel names) of each bundle in `data`."""
    magic = b"kiln-cuda-bundle 1\nplan "
    at = data.find(magic)
    while at >= 0:
        start = at + len(magic)
        end = data.index(b"\n", start)
        plan = data[end + 1:end + 1 + int(data[start:end])]
        header = re.match(rb"kiln-cuda-program 1\nsource (\d+)\n", plan)
        if not header:
            fail("a bundle without a source header")
        length = int(header.group(1))
        source = plan[header.end():header.end() + length]
        rest = plan[header.end() + length:].decode()
        kernels = sorted({line.split()[1] for line in rest.splitlines()
                          if line.startswith("launch ")})
        yield source.decode(), kernels
        at = data.find(magic, end)


def from_bundle(binary, texts):
    with open(binary, "rb") as f:
        found = [b for b in bundles(f.read())
                 if all(text in b[0] for text in texts)]
    if len(found) != 1:
        fail(f"{len(found)} bundles in {binary} contain {texts}, not 1")
    return found[0]


def from_cu(path):
    with open(path) as f:
        source = f.read()
    kernels = sorted(set(re.findall(
        r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(',
        source)))
    if not kernels:
        fail(f"{path} defines no kernel")
    return source, kernels


def main():
    args = sys.argv[1:]
    if len(args) >= 4 and args[0] == "bundle":
        (source, kernels), out = from_bundle(args[1], args[3:]), args[2]
    elif len(args) == 3 and args[0] == "cu":
        (source, kernels), out = from_cu(args[1]), args[2]
    else:
        sys.exit(__doc__)
    with open(out, "w") as f:
        f.write(source + "\nKILN_SHIM_KERNELS_BEGIN\n")
        for kernel in kernels:
            f.write(f"KILN_SHIM_KERNEL({kernel})\n")
        f.write("KILN_SHIM_KERNELS_END\n")


if __name__ == "__main__":
    main()
