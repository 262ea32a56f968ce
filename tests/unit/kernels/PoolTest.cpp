// maxPool2d and its gradient: tie-breaking, overlapping windows, NaN, and
// finite differences.
#include "kiln/kernels/Pool.h"

#include "GradCheck.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

using kiln::test::checkClose;
using kiln::test::numericVjp;
using kiln::test::poisoned;
using kiln::test::randomVec;
using kiln::test::Vec;

TEMPLATE_TEST_CASE("maxPool2d k=2 s=2 picks the first of tied maxima", "[pool]",
                   float, double) {
  const TestType x[16] = {1, 3, 3, 0, //
                          2, 3, 1, 1, //
                          5, 5, 0, 0, //
                          5, 4, 0, 0};
  TestType y[4];
  kiln::ref::maxPool2d(x, y, 1, 1, 4, 4, 2, 2);
  CHECK(y[0] == 3);
  CHECK(y[1] == 3);
  CHECK(y[2] == 5);
  CHECK(y[3] == 0);

  // Each window's gradient lands on its first maximum in row-major order:
  // (0,1) of {1,3,2,3}, (0,2) of {3,0,1,1}, (2,0) of {5,5,5,4}, (2,2) of zeros.
  const TestType dy[4] = {1, 2, 3, 4};
  TestType dx[16];
  std::fill(dx, dx + 16, TestType(99));
  kiln::ref::maxPool2dBackward(dy, x, dx, 1, 1, 4, 4, 2, 2);
  const TestType expected[16] = {0, 1, 2, 0, //
                                 0, 0, 0, 0, //
                                 3, 0, 4, 0, //
                                 0, 0, 0, 0};
  for (int i = 0; i < 16; ++i) {
    INFO("dx[" << i << "]");
    CHECK(dx[i] == expected[i]);
  }
}

TEMPLATE_TEST_CASE("maxPool2d handles all-negative windows", "[pool]", float,
                   double) {
  const TestType x[4] = {-4, -2, -3, -1};
  TestType y[1];
  kiln::ref::maxPool2d(x, y, 1, 1, 2, 2, 2, 2);
  CHECK(y[0] == -1);
}

TEMPLATE_TEST_CASE("maxPool2d backward accumulates where windows overlap",
                   "[pool]", float, double) {
  // 5x5, k=3, s=2: four windows, sharing row 2 and column 2. The 9 at (2,1) is
  // the maximum of both left windows, the 8 at (2,4) of both right windows.
  TestType x[25] = {};
  x[2 * 5 + 1] = 9;
  x[2 * 5 + 4] = 8;
  TestType y[4];
  kiln::ref::maxPool2d(x, y, 1, 1, 5, 5, 3, 2);
  CHECK(y[0] == 9);
  CHECK(y[1] == 8);
  CHECK(y[2] == 9);
  CHECK(y[3] == 8);

  const TestType dy[4] = {1, 2, 3, 4};
  TestType dx[25];
  kiln::ref::maxPool2dBackward(dy, x, dx, 1, 1, 5, 5, 3, 2);
  for (int i = 0; i < 25; ++i) {
    INFO("dx[" << i << "]");
    const TestType expected = i == 2 * 5 + 1   ? 1 + 3
                              : i == 2 * 5 + 4 ? 2 + 4
                                               : 0;
    CHECK(dx[i] == expected);
  }

  // One maximum in the centre, shared by all four windows.
  TestType center[25] = {};
  center[2 * 5 + 2] = 1;
  kiln::ref::maxPool2dBackward(dy, center, dx, 1, 1, 5, 5, 3, 2);
  CHECK(dx[2 * 5 + 2] == 10);
  CHECK(std::count(dx, dx + 25, TestType(0)) == 24);
}

TEST_CASE("maxPool2d propagates NaN like PyTorch", "[pool]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double x[8] = {1, nan, 5, 2, //
                       3, 4,   0, 1};
  double y[2];
  kiln::ref::maxPool2d(x, y, 1, 1, 2, 4, 2, 2);
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == 5);

  const double dy[2] = {7, 8};
  double dx[8];
  kiln::ref::maxPool2dBackward(dy, x, dx, 1, 1, 2, 4, 2, 2);
  CHECK(dx[1] == 7);
  CHECK(dx[2] == 8);
}

TEST_CASE("maxPool2d gradient matches finite differences", "[pool][grad]") {
  struct PoolShape {
    int64_t n, c, h, w, k, stride;
  };
  // Overlapping (k=3, s=2) and tiling (k=2, s=2) windows, batch 1 and 3,
  // non-square planes, and planes with rows/columns no window reaches.
  const std::vector<PoolShape> shapes = {
      {1, 1, 4, 4, 2, 2}, {3, 2, 6, 4, 2, 2}, {1, 2, 5, 5, 3, 2},
      {3, 2, 7, 6, 3, 2}, {1, 1, 5, 8, 3, 1}, {3, 1, 5, 7, 2, 2},
  };
  for (const PoolShape &s : shapes) {
    INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w
                    << " k=" << s.k << " stride=" << s.stride);
    const int64_t oh = (s.h - s.k) / s.stride + 1;
    const int64_t ow = (s.w - s.k) / s.stride + 1;
    const size_t xSize = s.n * s.c * s.h * s.w, ySize = s.n * s.c * oh * ow;
    // Distinct values at least 0.1 apart, shuffled, so no window has a tie
    // within the finite-difference step and the max is differentiable.
    Vec x(xSize);
    std::iota(x.begin(), x.end(), 0.0);
    std::shuffle(x.begin(), x.end(), std::mt19937(21));
    for (double &v : x)
      v = 0.1 * v - 1.0;
    const Vec dy = randomVec(ySize, 22);

    auto pool = [&](const Vec &v) {
      Vec y = poisoned(ySize);
      kiln::ref::maxPool2d(v.data(), y.data(), s.n, s.c, s.h, s.w, s.k,
                           s.stride);
      return y;
    };
    Vec dx = poisoned(xSize);
    kiln::ref::maxPool2dBackward(dy.data(), x.data(), dx.data(), s.n, s.c, s.h,
                                 s.w, s.k, s.stride);
    checkClose(dx, numericVjp(pool, x, dy));
  }
}
