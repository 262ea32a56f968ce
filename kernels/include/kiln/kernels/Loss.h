// Reference losses: softmax cross-entropy over class logits
// (torch.nn.CrossEntropyLoss with integer labels, no ignore_index or label
// smoothing) and squared error (torch.nn.MSELoss), each with PyTorch's three
// reductions and its gradient.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

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

/// PyTorch's `reduction`: the mean or the sum of the per-sample (cross-entropy)
/// or per-element (squared error) losses, or those losses themselves.
enum class LossReduction { Mean, Sum, None };

namespace detail {
/// Reduces `terms[0..n)` into out[0], or copies them for LossReduction::None.
template <typename T>
void reduceTerms(const T *terms, int64_t n, T *out, LossReduction reduction) {
  if (reduction == LossReduction::None) {
    for (int64_t i = 0; i < n; ++i)
      out[i] = terms[i];
    return;
  }
  T total = T(0);
  for (int64_t i = 0; i < n; ++i)
    total += terms[i];
  out[0] = reduction == LossReduction::Mean ? total / static_cast<T>(n) : total;
}

/// What scales term i's gradient: dloss[i] for None, otherwise dloss[0]
/// (divided by n for the mean).
template <typename T>
T termScale(const T *dloss, int64_t i, int64_t n, LossReduction reduction) {
  if (reduction == LossReduction::None)
    return dloss[i];
  return reduction == LossReduction::Mean ? dloss[0] / static_cast<T>(n)
                                          : dloss[0];
}
} // namespace detail

/// -log softmax(logits[i])[labels[i]] for each sample i of logits [n,c],
/// reduced: out gets n values for LossReduction::None, otherwise one. Throws
/// std::out_of_range if a label is outside [0, c), leaving out untouched.
template <typename T>
void softmaxCrossEntropy(const T *logits, const int64_t *labels, T *out,
                         int64_t n, int64_t c, LossReduction reduction) {
  detail::checkLabels(labels, n, c);
  std::vector<T> losses(n);
  for (int64_t i = 0; i < n; ++i) {
    const T *row = logits + i * c;
    losses[i] = detail::logSumExp(row, c) - row[labels[i]];
  }
  detail::reduceTerms(losses.data(), n, out, reduction);
}

/// The mean (or, with LossReduction::Sum, the sum) over the batch of
/// -log softmax(logits[i])[labels[i]]; logits [n,c]. Throws
/// std::out_of_range if a label is outside [0, c).
template <typename T>
T softmaxCrossEntropy(const T *logits, const int64_t *labels, int64_t n,
                      int64_t c,
                      LossReduction reduction = LossReduction::Mean) {
  if (reduction == LossReduction::None)
    throw std::invalid_argument(
        "softmaxCrossEntropy: LossReduction::None gives n "
        "losses; pass an output array for them");
  T loss;
  softmaxCrossEntropy(logits, labels, &loss, n, c, reduction);
  return loss;
}

/// dlogits[i] = scale_i * (softmax(logits[i]) - onehot(labels[i])), where
/// scale_i is dloss[0] / n (Mean), dloss[0] (Sum) or dloss[i] (None).
/// Overwrites dlogits. Throws std::out_of_range if a label is outside
/// [0, c), leaving dlogits untouched.
template <typename T>
void softmaxCrossEntropyBackward(const T *dloss, const T *logits,
                                 const int64_t *labels, T *dlogits, int64_t n,
                                 int64_t c, LossReduction reduction) {
  detail::checkLabels(labels, n, c);
  for (int64_t i = 0; i < n; ++i) {
    const T scale = detail::termScale(dloss, i, n, reduction);
    const T *row = logits + i * c;
    T *dRow = dlogits + i * c;
    const T lse = detail::logSumExp(row, c);
    for (int64_t j = 0; j < c; ++j)
      dRow[j] = scale * std::exp(row[j] - lse);
    dRow[labels[i]] -= scale;
  }
}

/// The mean's gradient: dlogits = dloss / n * (softmax(logits) -
/// onehot(labels)).
template <typename T>
void softmaxCrossEntropyBackward(std::type_identity_t<T> dloss, const T *logits,
                                 const int64_t *labels, T *dlogits, int64_t n,
                                 int64_t c) {
  const T scalar = dloss;
  softmaxCrossEntropyBackward(&scalar, logits, labels, dlogits, n, c,
                              LossReduction::Mean);
}

/// (a - b)^2 over n elements, reduced: out gets n values for
/// LossReduction::None, otherwise one.
template <typename T>
void mseLoss(const T *a, const T *b, T *out, int64_t n,
             LossReduction reduction) {
  std::vector<T> squares(n);
  for (int64_t i = 0; i < n; ++i) {
    const T diff = a[i] - b[i];
    squares[i] = diff * diff;
  }
  detail::reduceTerms(squares.data(), n, out, reduction);
}

/// mean((a - b)^2) over n elements.
template <typename T> T mseLoss(const T *a, const T *b, int64_t n) {
  T loss;
  mseLoss(a, b, &loss, n, LossReduction::Mean);
  return loss;
}

/// da[i] = 2 (a[i] - b[i]) * scale_i, where scale_i is dloss[0] / n (Mean),
/// dloss[0] (Sum) or dloss[i] (None). The gradient with respect to b is -da.
template <typename T>
void mseLossBackward(const T *dloss, const T *a, const T *b, T *da, int64_t n,
                     LossReduction reduction) {
  for (int64_t i = 0; i < n; ++i)
    da[i] = T(2) * detail::termScale(dloss, i, n, reduction) * (a[i] - b[i]);
}

/// The mean's gradient: da = dloss * 2 (a - b) / n.
template <typename T>
void mseLossBackward(std::type_identity_t<T> dloss, const T *a, const T *b,
                     T *da, int64_t n) {
  const T scalar = dloss;
  mseLossBackward(&scalar, a, b, da, n, LossReduction::Mean);
}

} // namespace kiln::ref
