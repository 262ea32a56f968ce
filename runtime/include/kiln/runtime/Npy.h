// NumPy's .npy files: one tensor per file, readable and writable by np.load
// and np.save.
//
//   kiln::writeNpy("w.npy", kiln::ones({2, 3}));   // np.load("w.npy")
//   kiln::Tensor x = kiln::readNpy("x.npy");       // from np.save("x.npy", a)
//
// kiln reads format versions 1.0, 2.0 and 3.0 holding little-endian '<f4',
// '<f8' or '<i8' data in C order, and writes version 1.0 (2.0 only when the
// header would not fit), laid out byte for byte as NumPy lays it out.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <string>

namespace kiln {

/// The array in `path`. Throws kiln::Error naming the file and the problem
/// when it is missing, truncated, not .npy, Fortran-ordered or of a dtype
/// kiln has no counterpart for.
Tensor readNpy(const std::string &path);

/// Writes `tensor`'s logical contents (any view is written as its contiguous
/// copy) atomically: readers see the old file or the whole new one.
void writeNpy(const std::string &path, const Tensor &tensor);

} // namespace kiln
