// matmul in all four transpose combinations, and linear.
#include "kiln/kernels/Linalg.h"

#include "GradCheck.h"

#include <catch2/catch.hpp>

#include <vector>

using kiln::test::checkClose;
using kiln::test::poisoned;
using kiln::test::randomVec;
using kiln::test::Vec;

namespace {
/// The [cols,rows] row-major storage of a [rows,cols] row-major matrix.
template <typename T>
std::vector<T> transposed(const std::vector<T> &m, int64_t rows, int64_t cols) {
  std::vector<T> t(m.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t[c * rows + r] = m[r * cols + c];
  return t;
}
} // namespace

TEMPLATE_TEST_CASE("matmul 2x3 by 3x4 by hand in every transpose combination",
                   "[linalg]", float, double) {
  const std::vector<TestType> a = {1, 2, 3, //
                                   4, 5, 6};
  const std::vector<TestType> b = {1, 0,  2, -1, //
                                   0, 1,  1, 2,  //
                                   3, -1, 0, 1};
  const std::vector<TestType> expected = {10, -1, 4,  6, //
                                          22, -1, 13, 12};
  const std::vector<TestType> aT = transposed(a, 2, 3),
                              bT = transposed(b, 3, 4);
  for (bool transA : {false, true}) {
    for (bool transB : {false, true}) {
      INFO("transA=" << transA << " transB=" << transB);
      std::vector<TestType> c(8, TestType(-99));
      kiln::ref::matmul((transA ? aT : a).data(), (transB ? bT : b).data(),
                        c.data(), 2, 3, 4, transA, transB);
      CHECK(c == expected);
    }
  }
}

TEST_CASE("matmul matches the naive formula on random matrices", "[linalg]") {
  const int64_t m = 5, k = 7, n = 3;
  const Vec a = randomVec(m * k, 41), b = randomVec(k * n, 42);
  Vec expected(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p)
        expected[i * n + j] += a[i * k + p] * b[p * n + j];
  const Vec aT = transposed(a, m, k), bT = transposed(b, k, n);
  for (bool transA : {false, true}) {
    for (bool transB : {false, true}) {
      INFO("transA=" << transA << " transB=" << transB);
      Vec c = poisoned(m * n);
      kiln::ref::matmul((transA ? aT : a).data(), (transB ? bT : b).data(),
                        c.data(), m, k, n, transA, transB);
      checkClose(c, expected, 1e-12);
    }
  }
}

TEMPLATE_TEST_CASE("linear computes x times w transposed plus bias", "[linalg]",
                   float, double) {
  const TestType x[6] = {1, 2, 3, 4, 5, 6};        // [2,3]
  const TestType w[6] = {1, 0, -1, 0.5, 0.5, 0.5}; // [out=2, in=3]
  const TestType bias[2] = {10, -1};
  TestType y[4];
  kiln::ref::linear(x, w, bias, y, 2, 3, 2);
  CHECK(y[0] == 8);
  CHECK(y[1] == 2);
  CHECK(y[2] == 8);
  CHECK(y[3] == TestType(6.5));

  kiln::ref::linear(x, w, nullptr, y, 2, 3, 2);
  CHECK(y[0] == -2);
  CHECK(y[3] == TestType(7.5));
}
