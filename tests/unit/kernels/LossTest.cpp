// softmaxCrossEntropy and mseLoss: hand values, numerical stability, label
// checks and finite differences.
#include "kiln/kernels/Loss.h"

#include "GradCheck.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

using kiln::test::checkClose;
using kiln::test::numericVjp;
using kiln::test::poisoned;
using kiln::test::randomVec;
using kiln::test::Vec;

TEMPLATE_TEST_CASE("softmaxCrossEntropy of known logits", "[loss]", float,
                   double) {
  const TestType logits[6] = {1, 2, 3, //
                              1, 1, 1};
  const int64_t labels[2] = {2, 0};
  // Row 0: log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = 0.40760596444438013
  // Row 1: log(3)                                         = 1.0986122886681098
  const TestType loss = kiln::ref::softmaxCrossEntropy(logits, labels, 2, 3);
  CHECK(loss == Approx(0.753109126556245).epsilon(1e-6));

  // d/dlogits = (softmax - onehot) / n; each row sums to zero.
  TestType d[6];
  kiln::ref::softmaxCrossEntropyBackward(TestType(1), logits, labels, d, 2, 3);
  const double sum0 = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(d[0] == Approx(std::exp(1.0) / sum0 / 2).epsilon(1e-6));
  CHECK(d[2] == Approx((std::exp(3.0) / sum0 - 1) / 2).epsilon(1e-6));
  CHECK(d[3] == Approx((1.0 / 3 - 1) / 2).epsilon(1e-6));
  CHECK(d[4] == Approx(1.0 / 6).epsilon(1e-6));
  CHECK(d[0] + d[1] + d[2] == Approx(0).margin(1e-6));
}

TEMPLATE_TEST_CASE("softmaxCrossEntropy is stable for large logits", "[loss]",
                   float, double) {
  // A naive exp(1000) overflows to inf; the shifted log-sum-exp does not.
  const TestType logits[4] = {1000, 0, //
                              -1000, 0};
  const int64_t right[2] = {0, 1}, wrong[2] = {1, 0};
  CHECK(kiln::ref::softmaxCrossEntropy(logits, right, 2, 2) ==
        Approx(0).margin(1e-6));
  CHECK(kiln::ref::softmaxCrossEntropy(logits, wrong, 2, 2) ==
        Approx(1000).epsilon(1e-6));
  TestType d[4];
  kiln::ref::softmaxCrossEntropyBackward(TestType(2), logits, wrong, d, 2, 2);
  CHECK(d[0] == Approx(1).margin(1e-6));
  CHECK(d[1] == Approx(-1).margin(1e-6));
  CHECK(d[2] == Approx(-1).margin(1e-6));
  CHECK(d[3] == Approx(1).margin(1e-6));
}

TEST_CASE("softmaxCrossEntropy rejects labels outside 0 to c-1", "[loss]") {
  const double logits[6] = {1, 2, 3, 4, 5, 6};
  for (int64_t bad : {int64_t(-1), int64_t(3), int64_t(-100)}) {
    const int64_t labels[2] = {0, bad};
    CHECK_THROWS_AS(kiln::ref::softmaxCrossEntropy(logits, labels, 2, 3),
                    std::out_of_range);
    double d[6] = {7, 7, 7, 7, 7, 7};
    CHECK_THROWS_WITH(
        kiln::ref::softmaxCrossEntropyBackward(1.0, logits, labels, d, 2, 3),
        Catch::Contains("label " + std::to_string(bad) + " of sample 1"));
    for (double v : d)
      CHECK(v == 7); // nothing written before the check
  }
}

TEST_CASE("softmaxCrossEntropyBackward matches finite differences",
          "[loss][grad]") {
  const int64_t n = 3, c = 5;
  const Vec logits = randomVec(n * c, 51, -3, 3);
  const int64_t labels[n] = {4, 0, 2};
  const double dloss = 0.7;
  Vec d = poisoned(n * c);
  kiln::ref::softmaxCrossEntropyBackward(dloss, logits.data(), labels, d.data(),
                                         n, c);
  checkClose(d, numericVjp(
                    [&](const Vec &v) {
                      return Vec{kiln::ref::softmaxCrossEntropy(v.data(),
                                                                labels, n, c)};
                    },
                    logits, {dloss}));
}

TEMPLATE_TEST_CASE("mseLoss and its gradient by hand", "[loss]", float,
                   double) {
  const TestType a[3] = {1, 2, 3}, b[3] = {1, 0, 5};
  // ((0)^2 + (2)^2 + (-2)^2) / 3 = 8/3; da = 1.5 * 2 * (a - b) / 3 = a - b.
  CHECK(kiln::ref::mseLoss(a, b, 3) == Approx(8.0 / 3).epsilon(1e-6));
  TestType da[3];
  kiln::ref::mseLossBackward(TestType(1.5), a, b, da, 3);
  CHECK(da[0] == 0);
  CHECK(da[1] == 2);
  CHECK(da[2] == -2);
}

TEST_CASE("mseLossBackward matches finite differences", "[loss][grad]") {
  const Vec a = randomVec(7, 61), b = randomVec(7, 62);
  const double dloss = -1.3;
  Vec da = poisoned(a.size());
  kiln::ref::mseLossBackward(dloss, a.data(), b.data(), da.data(), a.size());
  checkClose(da,
             numericVjp(
                 [&](const Vec &v) {
                   return Vec{kiln::ref::mseLoss(v.data(), b.data(), v.size())};
                 },
                 a, {dloss}));
}

TEMPLATE_TEST_CASE("softmaxCrossEntropy sum and none of known logits", "[loss]",
                   float, double) {
  using Reduction = kiln::ref::LossReduction;
  const TestType logits[6] = {1, 2, 3, //
                              1, 1, 1};
  const int64_t labels[2] = {2, 0};
  TestType each[2];
  kiln::ref::softmaxCrossEntropy(logits, labels, each, 2, 3, Reduction::None);
  CHECK(each[0] == Approx(0.40760596444438013).epsilon(1e-6));
  CHECK(each[1] == Approx(1.0986122886681098).epsilon(1e-6));
  CHECK(kiln::ref::softmaxCrossEntropy(logits, labels, 2, 3, Reduction::Sum) ==
        Approx(1.50621825311249).epsilon(1e-6));

  // Sum: softmax - onehot, not divided by n. None: row i scaled by dloss[i].
  TestType d[6];
  const TestType one = 1;
  kiln::ref::softmaxCrossEntropyBackward(&one, logits, labels, d, 2, 3,
                                         Reduction::Sum);
  CHECK(d[3] == Approx(1.0 / 3 - 1).epsilon(1e-6));
  CHECK(d[4] == Approx(1.0 / 3).epsilon(1e-6));
  const TestType dEach[2] = {0, -3};
  kiln::ref::softmaxCrossEntropyBackward(dEach, logits, labels, d, 2, 3,
                                         Reduction::None);
  CHECK(d[0] == 0);
  CHECK(d[2] == 0);
  CHECK(d[3] == Approx(-3 * (1.0 / 3 - 1)).epsilon(1e-6));
  CHECK(d[5] == Approx(-1).epsilon(1e-6));
}

TEST_CASE("softmaxCrossEntropy as a value refuses Reduction::None", "[loss]") {
  const double logits[2] = {1, 2};
  const int64_t labels[1] = {0};
  CHECK_THROWS_WITH(kiln::ref::softmaxCrossEntropy(
                        logits, labels, 1, 2, kiln::ref::LossReduction::None),
                    Catch::Contains("pass an output array"));
}

TEST_CASE("softmaxCrossEntropyBackward matches finite differences for sum "
          "and none",
          "[loss][grad]") {
  using Reduction = kiln::ref::LossReduction;
  const int64_t n = 3, c = 5;
  const Vec logits = randomVec(n * c, 53, -3, 3);
  const int64_t labels[n] = {1, 4, 1};
  for (Reduction reduction : {Reduction::Sum, Reduction::None}) {
    // A cotangent with a different weight per sample for none.
    const Vec dloss =
        reduction == Reduction::None ? Vec{0.7, -1.9, 0.2} : Vec{-0.4};
    Vec d = poisoned(n * c);
    kiln::ref::softmaxCrossEntropyBackward(dloss.data(), logits.data(), labels,
                                           d.data(), n, c, reduction);
    checkClose(d, numericVjp(
                      [&](const Vec &v) {
                        Vec out(dloss.size());
                        kiln::ref::softmaxCrossEntropy(
                            v.data(), labels, out.data(), n, c, reduction);
                        return out;
                      },
                      logits, dloss));
  }
}

TEMPLATE_TEST_CASE("mseLoss sum and none by hand", "[loss]", float, double) {
  using Reduction = kiln::ref::LossReduction;
  const TestType a[3] = {1, 2, 3}, b[3] = {1, 0, 5};
  TestType each[3], total;
  kiln::ref::mseLoss(a, b, each, 3, Reduction::None);
  CHECK(each[0] == 0);
  CHECK(each[1] == 4);
  CHECK(each[2] == 4);
  kiln::ref::mseLoss(a, b, &total, 3, Reduction::Sum);
  CHECK(total == 8);
  // Sum: da = 2 dloss (a - b). None: da[i] = 2 dloss[i] (a[i] - b[i]).
  TestType da[3];
  const TestType half = 0.5;
  kiln::ref::mseLossBackward(&half, a, b, da, 3, Reduction::Sum);
  CHECK(da[1] == 2);
  CHECK(da[2] == -2);
  const TestType dEach[3] = {5, 3, -1};
  kiln::ref::mseLossBackward(dEach, a, b, da, 3, Reduction::None);
  CHECK(da[0] == 0);
  CHECK(da[1] == 12);
  CHECK(da[2] == 4);
}

TEST_CASE("mseLossBackward matches finite differences for sum and none",
          "[loss][grad]") {
  using Reduction = kiln::ref::LossReduction;
  const Vec a = randomVec(6, 63), b = randomVec(6, 64);
  for (Reduction reduction : {Reduction::Sum, Reduction::None}) {
    const Vec dloss =
        reduction == Reduction::None ? randomVec(6, 65) : Vec{1.7};
    Vec da = poisoned(a.size());
    kiln::ref::mseLossBackward(dloss.data(), a.data(), b.data(), da.data(),
                               a.size(), reduction);
    checkClose(da, numericVjp(
                       [&](const Vec &v) {
                         Vec out(dloss.size());
                         kiln::ref::mseLoss(v.data(), b.data(), out.data(),
                                            v.size(), reduction);
                         return out;
                       },
                       a, dloss));
  }
}
