// Helpers shared by the Tensor sources: strided walks and typed loads.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <cstdint>
#include <vector>

namespace kiln::detail {

/// Product of `shape`; throws kiln::Error naming `what` when a size is
/// negative or the product overflows.
int64_t checkedNumel(const std::vector<int64_t> &shape, const char *what);

/// Row-major strides (in elements) for `shape`.
std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape);

/// Calls f(offsetA, offsetB) for every index of `shape`, in row-major order,
/// with the element offsets of that index in two differently strided layouts.
template <class F>
void forEachOffsetPair(const std::vector<int64_t> &shape,
                       const std::vector<int64_t> &stridesA, int64_t offsetA,
                       const std::vector<int64_t> &stridesB, int64_t offsetB,
                       F &&f) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  if (count == 0)
    return;
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < count; ++i) {
    f(offsetA, offsetB);
    // Odometer increment: the last axis moves fastest.
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) {
        offsetA += stridesA[d];
        offsetB += stridesB[d];
        break;
      }
      offsetA -= stridesA[d] * (shape[d] - 1);
      offsetB -= stridesB[d] * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

template <class F>
void forEachOffset(const std::vector<int64_t> &shape,
                   const std::vector<int64_t> &strides, int64_t offset, F &&f) {
  forEachOffsetPair(shape, strides, offset, strides, offset,
                    [&](int64_t a, int64_t) { f(a); });
}

/// Element `offset` of storage `base` read as a double.
inline double loadAsDouble(const void *base, DType dtype, int64_t offset) {
  switch (dtype) {
  case DType::F32:
    return static_cast<const float *>(base)[offset];
  case DType::F64:
    return static_cast<const double *>(base)[offset];
  case DType::I64:
    return static_cast<double>(static_cast<const int64_t *>(base)[offset]);
  case DType::U8:
    return static_cast<const uint8_t *>(base)[offset];
  }
  return 0.0;
}

} // namespace kiln::detail
