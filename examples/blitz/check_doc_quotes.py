#!/usr/bin/env python3
"""Checks that every C++ block in docs/blitz.md is quoted verbatim from the
example file named last before it, so the tutorial shows tested code."""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
doc = (root / "docs" / "blitz.md").read_text()
source = None
failures = 0
blocks = 0
for match in re.finditer(r"(examples/blitz/\w+\.cpp)|```cpp\n(.*?)```", doc,
                         re.S):
    if match.group(1):
        source = match.group(1)
        continue
    blocks += 1
    block = match.group(2)
    if source is None or block not in (root / source).read_text():
        failures += 1
        first = block.splitlines()[0] if block else ""
        print(f"not quoted from {source}: {first!r}")
print(f"{blocks} blocks checked, {failures} not found")
sys.exit(1 if failures or not blocks else 0)
