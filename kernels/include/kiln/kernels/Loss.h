// Reference losses: softmax cross-entropy over class logits
// (torch.nn.CrossEntropyLoss with integer labels, mean reduction, no
// ignore_index or label smoothing) and mean squared error (torch.nn.MSELoss,
// mean reduction), each with its gradient.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace kiln::ref {

namespace detail {
/// Labels come from data files, so a bad one is a user error: report it before
/// anything is read or written.
inline void checkLabels(const int64_t *labels, int64_t n, int64_t c) {
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] >= 0 && labels[i] < c)
      continue;
    throw std::out_of_range(
        "softmaxCrossEntropy: label " + std::to_string(labels[i]) +
        " of sample " + std::to_string(i) + " is outside [0, " +
        std::to_string(c) + "); labels must be class indices below the " +
        "number of logits per sample");
  }
}

/// log(sum(exp(row))), shifted by the row maximum so exp never overflows.
template <typename T> T logSumExp(const T *row, int64_t c) {
  T rowMax = row[0];
  for (int64_t j = 1; j < c; ++j)
    rowMax = row[j] > rowMax ? row[j] : rowMax;
  T sum = T(0);
  for (int64_t j = 0; j < c; ++j)
    sum += std::exp(row[j] - rowMax);
  return rowMax + std::log(sum);
}
} // namespace detail

/// mean over the batch of -log softmax(logits[i])[labels[i]]; logits [n,c].
/// Throws std::out_of_range if a label is outside [0, c).
template <typename T>
T softmaxCrossEntropy(const T *logits, const int64_t *labels, int64_t n,
                      int64_t c) {
  detail::checkLabels(labels, n, c);
  T total = T(0);
  for (int64_t i = 0; i < n; ++i) {
    const T *row = logits + i * c;
    total += detail::logSumExp(row, c) - row[labels[i]];
  }
  return total / static_cast<T>(n);
}

/// dlogits = dloss / n * (softmax(logits) - onehot(labels)). Overwrites
/// dlogits. Throws std::out_of_range if a label is outside [0, c), leaving
/// dlogits untouched.
template <typename T>
void softmaxCrossEntropyBackward(std::type_identity_t<T> dloss, const T *logits,
                                 const int64_t *labels, T *dlogits, int64_t n,
                                 int64_t c) {
  detail::checkLabels(labels, n, c);
  const T scale = dloss / static_cast<T>(n);
  for (int64_t i = 0; i < n; ++i) {
    const T *row = logits + i * c;
    T *dRow = dlogits + i * c;
    const T lse = detail::logSumExp(row, c);
    for (int64_t j = 0; j < c; ++j)
      dRow[j] = scale * std::exp(row[j] - lse);
    dRow[labels[i]] -= scale;
  }
}

/// mean((a - b)^2) over n elements.
template <typename T> T mseLoss(const T *a, const T *b, int64_t n) {
  T total = T(0);
  for (int64_t i = 0; i < n; ++i) {
    const T diff = a[i] - b[i];
    total += diff * diff;
  }
  return total / static_cast<T>(n);
}

/// da = dloss * 2 (a - b) / n. The gradient with respect to b is -da.
template <typename T>
void mseLossBackward(std::type_identity_t<T> dloss, const T *a, const T *b,
                     T *da, int64_t n) {
  const T scale = T(2) * dloss / static_cast<T>(n);
  for (int64_t i = 0; i < n; ++i)
    da[i] = scale * (a[i] - b[i]);
}

} // namespace kiln::ref
