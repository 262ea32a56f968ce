#!/usr/bin/env python3
"""Writes the .npy fixtures that kiln's NpyTest reads: files made by NumPy itself.

Run with Debian's numpy: /usr/bin/python3 tests/golden/npy/make_npy_fixtures.py
The output is deterministic, so a rerun leaves the committed files unchanged.

| file                   | what                                          |
|------------------------|-----------------------------------------------|
| f32_2x3.npy            | np.arange(6, dtype='<f4').reshape(2, 3)       |
| f64_scalar.npy         | np.array(0.1) (0-d, float64)                  |
| i64_vector.npy         | [-3, 0, 7, 2**40 + 1] as '<i8'                |
| f32_2x3_v2.npy         | the f32 array written as format version 2.0   |
| f32_2x3_fortran.npy    | the f32 array in Fortran order (kiln refuses) |
"""
import os
import sys

try:
    import numpy as np
except ImportError:
    print("numpy is not installed; fixtures left as they are")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, array, version=None):
    with open(os.path.join(HERE, name), "wb") as f:
        np.lib.format.write_array(f, array, version=version)


def main():
    f32 = np.arange(6, dtype="<f4").reshape(2, 3)
    save("f32_2x3.npy", f32)
    save("f64_scalar.npy", np.array(0.1, dtype="<f8"))
    save("i64_vector.npy", np.array([-3, 0, 7, 2**40 + 1], dtype="<i8"))
    save("f32_2x3_v2.npy", f32, version=(2, 0))
    save("f32_2x3_fortran.npy", np.asfortranarray(f32))
    print(f"wrote 5 fixtures with numpy {np.__version__} to {HERE}")


if __name__ == "__main__":
    main()
