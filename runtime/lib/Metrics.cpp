// Accuracy: argmax predictions compared with labels.
#include "kiln/runtime/Metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln {

namespace {

template <class T> int64_t argmaxRow(const T *row, int64_t length) {
  int64_t best = 0;
  for (int64_t i = 1; i < length; ++i) {
    if (std::isnan(row[best]))
      return best;
    // Strictly greater keeps the first of equal maxima.
    if (std::isnan(row[i]) || row[i] > row[best])
      best = i;
  }
  return best;
}

} // namespace

Accuracy::Accuracy(int64_t numClasses)
    : numClasses_(numClasses), classTotal_(std::max<int64_t>(numClasses, 0)),
      classCorrect_(std::max<int64_t>(numClasses, 0)) {
  if (numClasses <= 0)
    throw Error(
        fmt::format("Accuracy: numClasses is {}; pass at least 1", numClasses));
}

void Accuracy::add(const Tensor &logits, const Tensor &labels, int64_t count) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) != numClasses_ ||
      logits.dtype() == DType::I64)
    throw Error(fmt::format("Accuracy::add: logits must be a float tensor of "
                            "shape [B, {}], got {}; pass the model's raw "
                            "scores, one row per sample",
                            numClasses_,
                            logits.defined() ? shapeToString(logits.shape())
                                             : "an undefined tensor"));
  int64_t batch = logits.size(0);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != batch ||
      labels.dtype() != DType::I64)
    throw Error(fmt::format("Accuracy::add: labels must be an int64 tensor of "
                            "shape [{}] to match the logits, got {}",
                            batch,
                            labels.defined() ? shapeToString(labels.shape())
                                             : "an undefined tensor"));
  if (count < 0 || count > batch)
    throw Error(fmt::format("Accuracy::add: count {} is outside [0, {}]; pass "
                            "the number of real samples in the batch",
                            count, batch));
  Tensor scores = logits.contiguous();
  Tensor truth = labels.contiguous();
  const int64_t *labelData = truth.data<int64_t>();
  for (int64_t row = 0; row < count; ++row) {
    int64_t label = labelData[row];
    if (label < 0 || label >= numClasses_)
      throw Error(fmt::format("Accuracy::add: label {} of row {} is not a "
                              "class index in [0, {})",
                              label, row, numClasses_));
    int64_t predicted =
        scores.dtype() == DType::F32
            ? argmaxRow(scores.data<float>() + row * numClasses_, numClasses_)
            : argmaxRow(scores.data<double>() + row * numClasses_, numClasses_);
    bool hit = predicted == label;
    ++total_;
    ++classTotal_[label];
    correct_ += hit;
    classCorrect_[label] += hit;
  }
}

double Accuracy::overall() const {
  if (total_ == 0)
    return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(correct_) / static_cast<double>(total_);
}

std::vector<double> Accuracy::perClass() const {
  std::vector<double> result(numClasses_,
                             std::numeric_limits<double>::quiet_NaN());
  for (int64_t c = 0; c < numClasses_; ++c)
    if (classTotal_[c] > 0)
      result[c] = static_cast<double>(classCorrect_[c]) /
                  static_cast<double>(classTotal_[c]);
  return result;
}

void Accuracy::reset() {
  total_ = 0;
  correct_ = 0;
  std::fill(classTotal_.begin(), classTotal_.end(), 0);
  std::fill(classCorrect_.begin(), classCorrect_.end(), 0);
}

} // namespace kiln
