// Reference elementwise kernels: ReLU and its gradient, same-shape arithmetic,
// NumPy-style broadcasting and axis permutation.
#pragma once

#include "kiln/kernels/Indexing.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <vector>

namespace kiln::ref {

/// y = max(x, 0), NaN propagating (as torch.relu).
template <typename T> void relu(const T *x, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] < T(0) ? T(0) : x[i];
}

/// dx = x > 0 ? dy : 0. The gradient at exactly 0 is 0, as PyTorch's
/// threshold_backward (`x <= 0 ? 0 : dy`, so a NaN x passes dy through).
template <typename T>
void reluBackward(const T *dy, const T *x, T *dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dx[i] = x[i] <= T(0) ? T(0) : dy[i];
}

/// y = a + b over n elements; likewise sub, mul, div, pow below.
template <typename T> void add(const T *a, const T *b, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

template <typename T> void sub(const T *a, const T *b, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] - b[i];
}

template <typename T> void mul(const T *a, const T *b, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] * b[i];
}

template <typename T> void div(const T *a, const T *b, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] / b[i];
}

/// y = a ** b (std::pow: negative base with a non-integer exponent gives NaN).
template <typename T> void pow(const T *a, const T *b, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = std::pow(a[i], b[i]);
}

template <typename T> void neg(const T *x, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = -x[i];
}

template <typename T> void exp(const T *x, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = std::exp(x[i]);
}

/// Natural logarithm (log(0) = -inf, log of a negative number = NaN).
template <typename T> void log(const T *x, T *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = std::log(x[i]);
}

/// Expands x to yShape by NumPy rules: shapes are aligned on the right, missing
/// leading axes and axes of size 1 in x are repeated. Each remaining x axis
/// must equal the y axis it lines up with.
template <typename T>
void broadcastTo(const T *x, const std::vector<int64_t> &xShape, T *y,
                 const std::vector<int64_t> &yShape) {
  assert(xShape.size() <= yShape.size() &&
         "broadcastTo: target has fewer axes than the source");
  const std::vector<int64_t> xStrides = detail::contiguousStrides(xShape);
  const size_t lead = yShape.size() - xShape.size();
  // Stride 0 along every repeated axis makes the walk over y re-read the same
  // x.
  std::vector<int64_t> strides(yShape.size(), 0);
  for (size_t d = 0; d < xShape.size(); ++d) {
    assert((xShape[d] == 1 || xShape[d] == yShape[lead + d]) &&
           "broadcastTo: shapes are not broadcast-compatible");
    if (xShape[d] != 1)
      strides[lead + d] = xStrides[d];
  }
  detail::forEachStrided(yShape, strides,
                         [&](int64_t i, int64_t xAt) { y[i] = x[xAt]; });
}

/// y = x with its axes permuted: axis i of y is axis perm[i] of x
/// (torch.permute).
template <typename T>
void transpose(const T *x, const std::vector<int64_t> &shape,
               const std::vector<int64_t> &perm, T *y) {
  assert(perm.size() == shape.size() && "transpose: perm rank mismatch");
  const std::vector<int64_t> xStrides = detail::contiguousStrides(shape);
  std::vector<int64_t> yShape(shape.size()), strides(shape.size());
  std::vector<bool> seen(shape.size(), false);
  for (size_t i = 0; i < perm.size(); ++i) {
    assert(perm[i] >= 0 && perm[i] < static_cast<int64_t>(shape.size()) &&
           !seen[perm[i]] && "transpose: perm is not a permutation");
    seen[perm[i]] = true;
    yShape[i] = shape[perm[i]];
    strides[i] = xStrides[perm[i]];
  }
  detail::forEachStrided(yShape, strides,
                         [&](int64_t i, int64_t xAt) { y[i] = x[xAt]; });
}

} // namespace kiln::ref
