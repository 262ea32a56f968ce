// Reference optimizer update: one step of torch.optim.SGD (momentum, dampening,
// weight decay, Nesterov), applied in place.
#pragma once

#include <cassert>
#include <cstdint>
#include <type_traits>

namespace kiln::ref {

/// PyTorch's rule, per element:
///   g = grad + weightDecay * param
///   if momentum != 0:
///     buf = firstStep ? g : momentum * buf + (1 - dampening) * g
///     g   = nesterov ? g + momentum * buf : buf
///   param -= lr * g
/// momentumBuf may be null when momentum == 0; otherwise it holds n elements
/// and is written on every step (on the first, its old contents are ignored).
/// T is deduced from param and grad only, so nullptr and double literals work
/// for a float model.
template <typename T>
void sgdStep(T *param, const T *grad, std::type_identity_t<T> *momentumBuf,
             int64_t n, std::type_identity_t<T> lr,
             std::type_identity_t<T> momentum,
             std::type_identity_t<T> dampening,
             std::type_identity_t<T> weightDecay, bool nesterov,
             bool firstStep) {
  assert((momentum == T(0) || momentumBuf) &&
         "sgdStep: momentum needs a momentum buffer");
  for (int64_t i = 0; i < n; ++i) {
    // Skipped at 0 as PyTorch does, so an inf parameter doesn't turn g into
    // NaN.
    T g = weightDecay != T(0) ? grad[i] + weightDecay * param[i] : grad[i];
    if (momentum != T(0)) {
      T &buf = momentumBuf[i];
      buf = firstStep ? g : momentum * buf + (T(1) - dampening) * g;
      g = nesterov ? g + momentum * buf : buf;
    }
    param[i] -= lr * g;
  }
}

} // namespace kiln::ref
