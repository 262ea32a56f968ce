// Shape helpers shared by the shape-generic reference kernels (broadcast,
// transpose, reductions): row-major strides and a walk over a shape that tracks
// an offset into a second, differently-strided tensor.
#pragma once

#include <cassert>
#include <cstdint>
#include <vector>

namespace kiln::ref::detail {

inline int64_t numElements(const std::vector<int64_t> &shape) {
  int64_t total = 1;
  for (int64_t d : shape) {
    assert(d >= 0 && "numElements: negative dimension");
    total *= d;
  }
  return total;
}

/// Row-major (contiguous) strides of `shape`, in elements.
inline std::vector<int64_t>
contiguousStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// Calls fn(linear, offset) for every index of `shape` in row-major order,
/// where `linear` is the index's row-major position and `offset` is
/// sum(index[d]*strides[d]).
template <typename Fn>
void forEachStrided(const std::vector<int64_t> &shape,
                    const std::vector<int64_t> &strides, Fn &&fn) {
  assert(shape.size() == strides.size() && "forEachStrided: rank mismatch");
  const int64_t total = numElements(shape);
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> index(shape.size(), 0);
  int64_t offset = 0;
  for (int64_t linear = 0; linear < total; ++linear) {
    fn(linear, offset);
    // Odometer increment: bump the last axis, carrying into earlier ones.
    for (int64_t d = rank - 1; d >= 0; --d) {
      offset += strides[d];
      if (++index[d] < shape[d])
        break;
      offset -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
}

} // namespace kiln::ref::detail
