// Reference reductions over a set of axes. The output drops the reduced axes
// and keeps the others in order (torch.sum(x, dim=axes, keepdim=False)); an
// empty axis set copies.
#pragma once

#include "kiln/kernels/Indexing.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace kiln::ref {

namespace detail {
struct Reduction {
  std::vector<int64_t> yStrides; // per x axis: its stride in y, 0 if reduced
  int64_t yCount = 1;            // elements of y
  int64_t reducedCount = 1;      // x elements folded into each y element
};

inline Reduction planReduction(const std::vector<int64_t> &shape,
                               const std::vector<int64_t> &axes) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t a : axes) {
    assert(a >= 0 && a < rank && "reduction: axis out of range");
    assert(!reduced[a] && "reduction: axis listed twice");
    reduced[a] = true;
  }
  Reduction plan;
  plan.yStrides.assign(shape.size(), 0);
  // Kept axes get row-major strides of y, filled from the innermost axis out.
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (reduced[d]) {
      plan.reducedCount *= shape[d];
      continue;
    }
    plan.yStrides[d] = plan.yCount;
    plan.yCount *= shape[d];
  }
  return plan;
}
} // namespace detail

/// y = sum of x over `axes`.
template <typename T>
void reduceSum(const T *x, const std::vector<int64_t> &shape,
               const std::vector<int64_t> &axes, T *y) {
  const detail::Reduction plan = detail::planReduction(shape, axes);
  for (int64_t i = 0; i < plan.yCount; ++i)
    y[i] = T(0);
  detail::forEachStrided(shape, plan.yStrides,
                         [&](int64_t i, int64_t yAt) { y[yAt] += x[i]; });
}

/// y = mean of x over `axes` (the sum divided by the number of reduced
/// elements).
template <typename T>
void reduceMean(const T *x, const std::vector<int64_t> &shape,
                const std::vector<int64_t> &axes, T *y) {
  const detail::Reduction plan = detail::planReduction(shape, axes);
  reduceSum(x, shape, axes, y);
  for (int64_t i = 0; i < plan.yCount; ++i)
    y[i] /= static_cast<T>(plan.reducedCount);
}

/// y = max of x over `axes`; a NaN anywhere in a group makes that result NaN
/// (as torch.amax).
template <typename T>
void reduceMax(const T *x, const std::vector<int64_t> &shape,
               const std::vector<int64_t> &axes, T *y) {
  const detail::Reduction plan = detail::planReduction(shape, axes);
  assert((plan.yCount == 0 || plan.reducedCount > 0) &&
         "reduceMax: max over an empty axis is undefined");
  for (int64_t i = 0; i < plan.yCount; ++i)
    y[i] = -std::numeric_limits<T>::infinity();
  // Once y holds a NaN, `v > y` is false for every v, so the NaN sticks.
  detail::forEachStrided(shape, plan.yStrides, [&](int64_t i, int64_t yAt) {
    if (x[i] > y[yAt] || std::isnan(x[i]))
      y[yAt] = x[i];
  });
}

} // namespace kiln::ref
