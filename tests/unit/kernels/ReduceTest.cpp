// reduceSum / reduceMean / reduceMax over sets of axes, including middle axes.
#include "kiln/kernels/Reduce.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace {
/// x[i,j,k] = 12i + 4j + k over shape [2,3,4].
template <typename T> std::vector<T> iota24() {
  std::vector<T> x(24);
  std::iota(x.begin(), x.end(), T(0));
  return x;
}
} // namespace

TEMPLATE_TEST_CASE("reduceSum over middle and outer and all axes", "[reduce]",
                   float, double) {
  const std::vector<TestType> x = iota24<TestType>();
  SECTION("axis 1: y[i,k] = 36i + 12 + 3k") {
    TestType y[8];
    kiln::ref::reduceSum(x.data(), {2, 3, 4}, {1}, y);
    const TestType expected[8] = {12, 15, 18, 21, 48, 51, 54, 57};
    for (int i = 0; i < 8; ++i)
      CHECK(y[i] == expected[i]);
  }
  SECTION("axes {0,2} and {2,0}: y[j] = 60 + 32j") {
    TestType y[3], yReordered[3];
    kiln::ref::reduceSum(x.data(), {2, 3, 4}, {0, 2}, y);
    kiln::ref::reduceSum(x.data(), {2, 3, 4}, {2, 0}, yReordered);
    for (int j = 0; j < 3; ++j) {
      CHECK(y[j] == 60 + 32 * j);
      CHECK(yReordered[j] == y[j]);
    }
  }
  SECTION("axis 2 of a 4-D tensor keeps the others in order") {
    // [2,2,3,2]: x[a,b,c,d] = 12a + 6b + 2c + d, y[a,b,d] = sum_c x[a,b,c,d].
    std::vector<TestType> x4(24);
    std::iota(x4.begin(), x4.end(), TestType(0));
    TestType y[8];
    kiln::ref::reduceSum(x4.data(), {2, 2, 3, 2}, {2}, y);
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b)
        for (int d = 0; d < 2; ++d) {
          const int base = a * 12 + b * 6 + d;
          CHECK(y[(a * 2 + b) * 2 + d] == 3 * base + 6); // 2c sums to 6
        }
  }
  SECTION("all axes and no axes") {
    TestType total[1];
    kiln::ref::reduceSum(x.data(), {2, 3, 4}, {0, 1, 2}, total);
    CHECK(total[0] == 276);
    std::vector<TestType> copy(24);
    kiln::ref::reduceSum(x.data(), {2, 3, 4}, {}, copy.data());
    CHECK(copy == x);
  }
}

TEMPLATE_TEST_CASE("reduceMean divides by the reduced count", "[reduce]", float,
                   double) {
  const std::vector<TestType> x = iota24<TestType>();
  TestType y[8];
  kiln::ref::reduceMean(x.data(), {2, 3, 4}, {1}, y);
  const TestType expected[8] = {4, 5, 6, 7, 16, 17, 18, 19};
  for (int i = 0; i < 8; ++i)
    CHECK(y[i] == expected[i]);

  TestType z[3];
  kiln::ref::reduceMean(x.data(), {2, 3, 4}, {0, 2}, z);
  for (int j = 0; j < 3; ++j)
    CHECK(z[j] == TestType(60 + 32 * j) / 8);
}

TEMPLATE_TEST_CASE("reduceMax over a middle axis with negatives and NaN",
                   "[reduce]", float, double) {
  // Shape [2,3,2]; the maximum of each column is in a different row.
  const TestType x[12] = {-5, -1, //
                          -2, -7, //
                          -3, -4, //
                          1,  9,  //
                          8,  2,  //
                          3,  4};
  TestType y[4];
  kiln::ref::reduceMax(x, {2, 3, 2}, {1}, y);
  CHECK(y[0] == -2);
  CHECK(y[1] == -1);
  CHECK(y[2] == 8);
  CHECK(y[3] == 9);

  TestType withNan[12];
  std::copy(x, x + 12, withNan);
  withNan[2] = std::numeric_limits<TestType>::quiet_NaN();
  kiln::ref::reduceMax(withNan, {2, 3, 2}, {1}, y);
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == -1);

  TestType overall[1];
  kiln::ref::reduceMax(x, {2, 3, 2}, {0, 1, 2}, overall);
  CHECK(overall[0] == 9);
}
