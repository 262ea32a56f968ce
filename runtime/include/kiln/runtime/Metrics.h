// Classification accuracy, overall and per class, accumulated over batches.
//
//   kiln::Accuracy accuracy(10);
//   while (loader.next(images, labels, count))
//     accuracy.add(program.predict(images), labels, count);
//   fmt::print("{:.1f}%\n", 100 * accuracy.overall());
#pragma once

#include "kiln/runtime/Tensor.h"

#include <vector>

namespace kiln {

class Accuracy {
public:
  explicit Accuracy(int64_t numClasses);

  /// Scores the first `count` rows of `logits` ([B, numClasses], float32 or
  /// float64) against `labels` ([B] int64). The prediction is the first
  /// index of the row maximum (NaN counting as the maximum), as torch.argmax.
  void add(const Tensor &logits, const Tensor &labels, int64_t count);

  /// Fraction of samples predicted correctly; NaN before any add().
  double overall() const;
  /// Per true class, the fraction predicted correctly; NaN for a class that
  /// has not been seen.
  std::vector<double> perClass() const;
  /// Samples scored so far.
  int64_t total() const { return total_; }
  void reset();

private:
  int64_t numClasses_;
  int64_t total_ = 0;
  int64_t correct_ = 0;
  std::vector<int64_t> classTotal_;
  std::vector<int64_t> classCorrect_;
};

} // namespace kiln
