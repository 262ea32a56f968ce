#!/usr/bin/env python3
"""Writes the CUDA source of one kiln bundle embedded in a binary, with the
kernel table tests/cuda/CudaShim.h needs, so that the fake driver can run that
bundle's kernels on the host (FAKE_CUDA_KERNELS).

usage: bundle_source.py BINARY OUT.cpp TEXT...
picks the one bundle whose source contains every TEXT (e.g. "lr 1,").
"""
import re
import sys


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
            sys.exit("bundle_source.py: a bundle without a source header")
        length = int(header.group(1))
        source = plan[header.end():header.end() + length]
        rest = plan[header.end() + length:].decode()
        kernels = sorted({line.split()[1] for line in rest.splitlines()
                          if line.startswith("launch ")})
        yield source.decode(), kernels
        at = data.find(magic, end)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, out, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(binary, "rb") as f:
        found = [b for b in bundles(f.read())
                 if all(text in b[0] for text in texts)]
    if len(found) != 1:
        sys.exit(f"bundle_source.py: {len(found)} bundles in {binary} "
                 f"contain {texts}, not 1")
    source, kernels = found[0]
    with open(out, "w") as f:
        f.write(source + "\nKILN_SHIM_KERNELS_BEGIN\n")
        for kernel in kernels:
            f.write(f"KILN_SHIM_KERNEL({kernel})\n")
        f.write("KILN_SHIM_KERNELS_END\n")


if __name__ == "__main__":
    main()
