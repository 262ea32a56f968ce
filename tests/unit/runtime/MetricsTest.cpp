// Tests for kiln::Accuracy on hand-made logits.
#include "kiln/runtime/Metrics.h"

#include <catch2/catch.hpp>

#include <cmath>

using Catch::Matchers::Contains;
using kiln::DType;
using kiln::Tensor;

namespace {

Tensor makeLogits(std::vector<float> values, int64_t classes) {
  int64_t rows = static_cast<int64_t>(values.size()) / classes;
  Tensor t = Tensor::empty({rows, classes});
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

Tensor makeLabels(std::vector<int64_t> values) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, DType::I64);
  std::copy(values.begin(), values.end(), t.data<int64_t>());
  return t;
}

} // namespace

TEST_CASE("Accuracy counts argmax hits overall and per class", "[metrics]") {
  kiln::Accuracy accuracy(3);
  CHECK(std::isnan(accuracy.overall()));

  // Predictions: 2, 0 (tie 0/1 -> first), 1, 2.
  Tensor logits = makeLogits({0.1f, 0.2f, 0.9f,    //
                              5.0f, 5.0f, -1.0f,   //
                              -3.0f, -1.0f, -2.0f, //
                              0.0f, 0.0f, 1.0f},
                             3);
  accuracy.add(logits, makeLabels({2, 1, 1, 0}), 4);
  CHECK(accuracy.total() == 4);
  CHECK(accuracy.overall() == 0.5);
  std::vector<double> perClass = accuracy.perClass();
  CHECK(perClass[0] == 0.0);
  CHECK(perClass[1] == 0.5);
  CHECK(perClass[2] == 1.0);

  // Only the first `count` rows count: the second row would be a miss.
  accuracy.add(makeLogits({1, 0, 0, 1, 0, 0}, 3), makeLabels({0, 2}), 1);
  CHECK(accuracy.total() == 5);
  CHECK(accuracy.overall() == 0.6);
  CHECK(accuracy.perClass()[0] == 0.5);

  accuracy.reset();
  CHECK(accuracy.total() == 0);
  CHECK(std::isnan(accuracy.perClass()[1]));
}

TEST_CASE("Accuracy reads float64 logits and treats NaN as the maximum",
          "[metrics]") {
  kiln::Accuracy accuracy(2);
  Tensor logits = Tensor::empty({2, 2}, DType::F64);
  double values[4] = {0.0, std::nan(""), 3.0, 1.0};
  std::copy(values, values + 4, logits.data<double>());
  accuracy.add(logits, makeLabels({1, 0}), 2);
  CHECK(accuracy.overall() == 1.0);
}

TEST_CASE("Accuracy rejects mismatched inputs", "[metrics]") {
  kiln::Accuracy accuracy(3);
  Tensor logits = makeLogits({1, 2, 3, 4, 5, 6}, 3);
  CHECK_THROWS_WITH(
      accuracy.add(makeLogits({1, 2, 3, 4}, 2), makeLabels({0, 1}), 2),
      Contains("shape [B, 3], got [2, 2]"));
  CHECK_THROWS_WITH(accuracy.add(logits, makeLabels({0}), 1),
                    Contains("shape [2] to match the logits"));
  CHECK_THROWS_WITH(accuracy.add(logits, makeLabels({0, 3}), 2),
                    Contains("label 3 of row 1"));
  CHECK_THROWS_WITH(accuracy.add(logits, makeLabels({0, 1}), 3),
                    Contains("count 3 is outside [0, 2]"));
  CHECK_THROWS_AS(kiln::Accuracy(0), kiln::Error);
}
