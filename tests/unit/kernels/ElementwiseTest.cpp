// ReLU, same-shape arithmetic, broadcasting and transposition.
#include "kiln/kernels/Elementwise.h"

#include "GradCheck.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

using kiln::test::checkClose;
using kiln::test::numericVjp;
using kiln::test::poisoned;
using kiln::test::randomVec;
using kiln::test::Vec;

TEMPLATE_TEST_CASE("relu clamps negatives and propagates NaN", "[elementwise]",
                   float, double) {
  const TestType nan = std::numeric_limits<TestType>::quiet_NaN();
  const TestType x[5] = {-2, 0, 0.5, 3, nan};
  TestType y[5];
  kiln::ref::relu(x, y, 5);
  CHECK(y[0] == 0);
  CHECK(y[1] == 0);
  CHECK(y[2] == TestType(0.5));
  CHECK(y[3] == 3);
  CHECK(std::isnan(y[4]));
}

TEMPLATE_TEST_CASE(
    "reluBackward passes dy only where x > 0 and gives 0 at x == 0",
    "[elementwise]", float, double) {
  const TestType x[4] = {-1, 0, 2, 1e-30f};
  const TestType dy[4] = {5, 6, 7, 8};
  TestType dx[4];
  kiln::ref::reluBackward(dy, x, dx, 4);
  CHECK(dx[0] == 0);
  CHECK(dx[1] == 0);
  CHECK(dx[2] == 7);
  CHECK(dx[3] == 8);
}

TEST_CASE("reluBackward matches finite differences", "[elementwise][grad]") {
  // Values kept at least 0.05 from the kink at 0, well beyond the FD step.
  Vec x = randomVec(40, 31);
  for (double &v : x)
    v += v < 0 ? -0.05 : 0.05;
  const Vec dy = randomVec(x.size(), 32);
  Vec dx = poisoned(x.size());
  kiln::ref::reluBackward(dy.data(), x.data(), dx.data(), x.size());
  checkClose(dx, numericVjp(
                     [](const Vec &v) {
                       Vec y(v.size());
                       kiln::ref::relu(v.data(), y.data(), v.size());
                       return y;
                     },
                     x, dy));
}

TEMPLATE_TEST_CASE("binary and unary arithmetic", "[elementwise]", float,
                   double) {
  const TestType a[3] = {1, -2, 3.5}, b[3] = {2, 4, -0.5};
  TestType y[3];
  kiln::ref::add(a, b, y, 3);
  CHECK((y[0] == 3 && y[1] == 2 && y[2] == 3));
  kiln::ref::sub(a, b, y, 3);
  CHECK((y[0] == -1 && y[1] == -6 && y[2] == 4));
  kiln::ref::mul(a, b, y, 3);
  CHECK((y[0] == 2 && y[1] == -8 && y[2] == TestType(-1.75)));
  kiln::ref::div(a, b, y, 3);
  CHECK((y[0] == TestType(0.5) && y[1] == TestType(-0.5) && y[2] == -7));
  kiln::ref::neg(a, y, 3);
  CHECK((y[0] == -1 && y[1] == 2 && y[2] == TestType(-3.5)));

  const TestType base[3] = {2, 9, 4}, exponent[3] = {3, 0.5, -1};
  kiln::ref::pow(base, exponent, y, 3);
  CHECK((y[0] == 8 && y[1] == 3 && y[2] == TestType(0.25)));

  const TestType e = std::exp(TestType(1));
  const TestType expIn[2] = {0, 1}, logIn[3] = {1, e, 0};
  kiln::ref::exp(expIn, y, 2);
  CHECK(y[0] == 1);
  CHECK(y[1] == Approx(2.718281828459045).epsilon(1e-6));
  kiln::ref::log(logIn, y, 3);
  CHECK(y[0] == 0);
  CHECK(y[1] == Approx(1).epsilon(1e-6));
  CHECK(y[2] == -std::numeric_limits<TestType>::infinity());
}

TEMPLATE_TEST_CASE("broadcastTo follows NumPy rules", "[elementwise]", float,
                   double) {
  SECTION("column [3,1] to [2,3,2]: new leading axis, size-1 axis repeated") {
    const TestType x[3] = {1, 2, 3};
    TestType y[12];
    kiln::ref::broadcastTo(x, {3, 1}, y, {2, 3, 2});
    const TestType expected[12] = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3};
    for (int i = 0; i < 12; ++i)
      CHECK(y[i] == expected[i]);
  }
  SECTION("middle axis [2,1,3] to [2,2,3]") {
    const TestType x[6] = {1, 2, 3, 4, 5, 6};
    TestType y[12];
    kiln::ref::broadcastTo(x, {2, 1, 3}, y, {2, 2, 3});
    const TestType expected[12] = {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6};
    for (int i = 0; i < 12; ++i)
      CHECK(y[i] == expected[i]);
  }
  SECTION("row [4] and [1,4] to [3,4], scalar [] to [2,2]") {
    const TestType row[4] = {1, 2, 3, 4}, scalar[1] = {7};
    TestType y[12];
    kiln::ref::broadcastTo(row, {4}, y, {3, 4});
    for (int i = 0; i < 12; ++i)
      CHECK(y[i] == row[i % 4]);
    std::fill(y, y + 12, TestType(0));
    kiln::ref::broadcastTo(row, {1, 4}, y, {3, 4});
    for (int i = 0; i < 12; ++i)
      CHECK(y[i] == row[i % 4]);
    kiln::ref::broadcastTo(scalar, {}, y, {2, 2});
    for (int i = 0; i < 4; ++i)
      CHECK(y[i] == 7);
  }
  SECTION("same shape is a copy") {
    const TestType x[6] = {1, 2, 3, 4, 5, 6};
    TestType y[6];
    kiln::ref::broadcastTo(x, {2, 3}, y, {2, 3});
    for (int i = 0; i < 6; ++i)
      CHECK(y[i] == x[i]);
  }
}

TEMPLATE_TEST_CASE("transpose permutes axes", "[elementwise]", float, double) {
  SECTION("2-D") {
    const TestType x[6] = {1, 2, 3, 4, 5, 6}; // [[1,2,3],[4,5,6]]
    TestType y[6];
    kiln::ref::transpose(x, {2, 3}, {1, 0}, y);
    const TestType expected[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; ++i)
      CHECK(y[i] == expected[i]);
  }
  SECTION("3-D, perm {2,0,1}: y[k,i,j] = x[i,j,k]") {
    std::vector<TestType> x(24);
    std::iota(x.begin(), x.end(), TestType(0)); // x[i,j,k] = 12i + 4j + k
    std::vector<TestType> y(24);
    kiln::ref::transpose(x.data(), {2, 3, 4}, {2, 0, 1}, y.data());
    for (int k = 0; k < 4; ++k)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
          CHECK(y[(k * 2 + i) * 3 + j] == 12 * i + 4 * j + k);
  }
  SECTION("identity perm copies") {
    const TestType x[6] = {1, 2, 3, 4, 5, 6};
    TestType y[6];
    kiln::ref::transpose(x, {3, 2}, {0, 1}, y);
    for (int i = 0; i < 6; ++i)
      CHECK(y[i] == x[i]);
  }
}
