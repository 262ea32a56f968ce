// Reference matrix multiply and fully-connected layer (torch.nn.Linear).
#pragma once

#include <cstdint>
#include <type_traits>

namespace kiln::ref {

/// c[m,n] = op(a)[m,k] * op(b)[k,n]. a is stored [m,k], or [k,m] when transA;
/// b is stored [k,n], or [n,k] when transB. Overwrites c.
template <typename T>
void matmul(const T *a, const T *b, T *c, int64_t m, int64_t k, int64_t n,
            bool transA, bool transB) {
  auto aAt = [&](int64_t i, int64_t p) {
    return transA ? a[p * m + i] : a[i * k + p];
  };
  for (int64_t i = 0; i < m; ++i) {
    T *cRow = c + i * n;
    if (transB) {
      // b's rows are op(b)'s columns: a dot product over contiguous p.
      for (int64_t j = 0; j < n; ++j) {
        T sum = T(0);
        for (int64_t p = 0; p < k; ++p)
          sum += aAt(i, p) * b[j * k + p];
        cRow[j] = sum;
      }
      continue;
    }
    // Accumulate scaled rows of b so the innermost loop is contiguous in b and
    // c.
    for (int64_t j = 0; j < n; ++j)
      cRow[j] = T(0);
    for (int64_t p = 0; p < k; ++p) {
      const T av = aAt(i, p);
      const T *bRow = b + p * n;
      for (int64_t j = 0; j < n; ++j)
        cRow[j] += av * bRow[j];
    }
  }
}

/// y[batch,out] = x[batch,in] * w[out,in]^T + bias[out]; bias may be null (a
/// plain nullptr: bias takes no part in deducing T).
template <typename T>
void linear(const T *x, const T *w, const std::type_identity_t<T> *bias, T *y,
            int64_t batch, int64_t in, int64_t out) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t o = 0; o < out; ++o) {
      T sum = bias ? bias[o] : T(0);
      for (int64_t i = 0; i < in; ++i)
        sum += x[b * in + i] * w[o * in + i];
      y[b * out + o] = sum;
    }
  }
}

} // namespace kiln::ref
