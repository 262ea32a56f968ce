// Reference 2-D max pooling (square window, no padding) and its gradient.
//
// Shapes: x [n,c,h,w], y [n,c,oh,ow] with oh = (h-k)/stride + 1, ow =
// (w-k)/stride + 1. Which element of a window is "the" maximum follows
// PyTorch's CPU kernel: the window is scanned in row-major order and a value
// replaces the current best only if it is strictly greater, so among ties the
// FIRST wins; a NaN always replaces the best, so NaNs propagate (the last NaN
// in the window is the one selected).
#pragma once

#include "kiln/kernels/Conv.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace kiln::ref {

namespace detail {
/// Offset, within its [h,w] plane, of the element max pooling selects for
/// output (oy, ox).
template <typename T>
int64_t maxPoolArgmax(const T *xPlane, int64_t w, int64_t k, int64_t stride,
                      int64_t oy, int64_t ox) {
  int64_t best = (oy * stride) * w + ox * stride;
  T bestValue = -std::numeric_limits<T>::infinity();
  for (int64_t ki = 0; ki < k; ++ki) {
    for (int64_t kj = 0; kj < k; ++kj) {
      const int64_t at = (oy * stride + ki) * w + ox * stride + kj;
      const T v = xPlane[at];
      if (v > bestValue || std::isnan(v)) {
        bestValue = v;
        best = at;
      }
    }
  }
  return best;
}
} // namespace detail

/// y = max over each k x k window of x, windows `stride` apart.
template <typename T>
void maxPool2d(const T *x, T *y, int64_t n, int64_t c, int64_t h, int64_t w,
               int64_t k, int64_t stride) {
  const int64_t oh = convOutSize(h, k, stride, 0);
  const int64_t ow = convOutSize(w, k, stride, 0);
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const T *xPlane = x + plane * h * w;
    T *yPlane = y + plane * oh * ow;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        yPlane[oy * ow + ox] =
            xPlane[detail::maxPoolArgmax(xPlane, w, k, stride, oy, ox)];
  }
}

/// dx: each dy goes to the position its window selected in the forward pass;
/// positions shared by overlapping windows accumulate. Overwrites dx.
template <typename T>
void maxPool2dBackward(const T *dy, const T *x, T *dx, int64_t n, int64_t c,
                       int64_t h, int64_t w, int64_t k, int64_t stride) {
  const int64_t oh = convOutSize(h, k, stride, 0);
  const int64_t ow = convOutSize(w, k, stride, 0);
  for (int64_t i = 0; i < n * c * h * w; ++i)
    dx[i] = T(0);
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const T *xPlane = x + plane * h * w;
    const T *dyPlane = dy + plane * oh * ow;
    T *dxPlane = dx + plane * h * w;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        dxPlane[detail::maxPoolArgmax(xPlane, w, k, stride, oy, ox)] +=
            dyPlane[oy * ow + ox];
  }
}

} // namespace kiln::ref
