// Test helpers: seeded random inputs and a central finite-difference check of a
// backward kernel against its forward, all in double precision.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <vector>

namespace kiln::test {

using Vec = std::vector<double>;

/// n values uniform in [lo, hi), reproducible from `seed`.
inline Vec randomVec(size_t n, uint32_t seed, double lo = -1.0,
                     double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Vec v(n);
  for (double &x : v)
    x = dist(gen);
  return v;
}

/// A buffer pre-filled with NaN, so a kernel that reads (accumulates into) its
/// output instead of overwriting it produces NaN and fails the test.
template <typename T = double> std::vector<T> poisoned(size_t n) {
  return std::vector<T>(n, std::numeric_limits<T>::quiet_NaN());
}

/// d/dx_i of L(x) = <dy, f(x)> by central differences: the vector-Jacobian
/// product a backward kernel computes. f must return a vector the size of dy.
///
/// With h = 1e-6, for the piecewise-linear ops (conv, pool away from ties, relu
/// away from 0) the quotient is exact up to rounding, about eps*|L|/h ~ 1e-9
/// for the O(10) values here; for smooth ops the truncation error h^2*|L'''|/6
/// is ~1e-12.
inline Vec numericVjp(const std::function<Vec(const Vec &)> &f, Vec x,
                      const Vec &dy, double h = 1e-6) {
  auto loss = [&](const Vec &at) {
    const Vec y = f(at);
    REQUIRE(y.size() == dy.size());
    double sum = 0;
    for (size_t i = 0; i < y.size(); ++i)
      sum += dy[i] * y[i];
    return sum;
  };
  Vec grad(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double plus = loss(x);
    x[i] = saved - h;
    const double minus = loss(x);
    x[i] = saved;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/// Tolerance for comparing an analytic gradient with numericVjp: two orders of
/// magnitude above the error bound stated there, far below any real gradient
/// bug.
inline constexpr double kGradTolerance = 1e-7;

/// Every element of `actual` within tol * (1 + |expected|) of `expected`.
inline void checkClose(const Vec &actual, const Vec &expected,
                       double tol = kGradTolerance) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    INFO("element " << i << ": got " << actual[i] << ", expected "
                    << expected[i]);
    CHECK(std::abs(actual[i] - expected[i]) <=
          tol * (1 + std::abs(expected[i])));
  }
}

} // namespace kiln::test
