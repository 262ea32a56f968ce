// Tensor comparison shared by the integration tests.
#pragma once

#include "kiln/runtime/Tensor.h"

#include <algorithm>
#include <cmath>

namespace kiln::test {

/// max|a - b| over the elements, and max|b|: what relative per-tensor
/// tolerances are stated in.
struct Difference {
  double worst = 0, scale = 0;
  bool within(double rtol, double atol) const {
    return worst <= rtol * scale + atol;
  }
};

inline Difference difference(const Tensor &a, const Tensor &b) {
  Tensor x = a.to(DType::F64), y = b.to(DType::F64);
  Difference d;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const double got = x.data<double>()[i], want = y.data<double>()[i];
    d.worst = std::max(d.worst, std::isnan(got) ? INFINITY : std::abs(got - want));
    d.scale = std::max(d.scale, std::abs(want));
  }
  return d;
}

} // namespace kiln::test
