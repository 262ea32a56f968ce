// Reference 2-D convolution (cross-correlation, as PyTorch's Conv2d) and its
// gradients.
//
// Shapes: x [n,c,h,wd], w [f,c,kh,kw], bias [f], y [n,f,oh,ow] with
// oh = convOutSize(h, kh, stride, pad) and ow = convOutSize(wd, kw, stride,
// pad). Padding is zero padding on all four sides; stride applies to both axes.
#pragma once

#include <cassert>
#include <cstdint>
#include <type_traits>

namespace kiln::ref {

/// Output extent of a convolution or pooling window along one axis:
/// (in + 2*pad - k) / stride + 1.
inline int64_t convOutSize(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  assert(stride > 0 && "convOutSize: stride must be positive");
  assert(pad >= 0 && "convOutSize: padding must be non-negative");
  assert(in + 2 * pad >= k && "convOutSize: window larger than padded input");
  return (in + 2 * pad - k) / stride + 1;
}

/// y = conv(x, w) + bias; bias may be null (a plain nullptr: bias takes no part
/// in deducing T).
template <typename T>
void conv2d(const T *x, const T *w, const std::type_identity_t<T> *bias, T *y,
            int64_t n, int64_t c, int64_t h, int64_t wd, int64_t f, int64_t kh,
            int64_t kw, int64_t stride, int64_t pad) {
  const int64_t oh = convOutSize(h, kh, stride, pad);
  const int64_t ow = convOutSize(wd, kw, stride, pad);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < f; ++o) {
      T *yPlane = y + (b * f + o) * oh * ow;
      const T init = bias ? bias[o] : T(0);
      for (int64_t i = 0; i < oh * ow; ++i)
        yPlane[i] = init;
      // One weight tap at a time, swept over the whole output plane, so the
      // innermost loop walks a row of y and (for stride 1) a row of x.
      for (int64_t ch = 0; ch < c; ++ch) {
        const T *xPlane = x + (b * c + ch) * h * wd;
        for (int64_t ki = 0; ki < kh; ++ki) {
          for (int64_t kj = 0; kj < kw; ++kj) {
            const T wv = w[((o * c + ch) * kh + ki) * kw + kj];
            for (int64_t oy = 0; oy < oh; ++oy) {
              const int64_t iy = oy * stride - pad + ki;
              if (iy < 0 || iy >= h)
                continue;
              for (int64_t ox = 0; ox < ow; ++ox) {
                const int64_t ix = ox * stride - pad + kj;
                if (ix < 0 || ix >= wd)
                  continue;
                yPlane[oy * ow + ox] += wv * xPlane[iy * wd + ix];
              }
            }
          }
        }
      }
    }
  }
}

/// dx = d(sum dy*y)/dx: the transposed convolution of dy with w. Overwrites dx.
template <typename T>
void conv2dBackwardInput(const T *dy, const T *w, T *dx, int64_t n, int64_t c,
                         int64_t h, int64_t wd, int64_t f, int64_t kh,
                         int64_t kw, int64_t stride, int64_t pad) {
  const int64_t oh = convOutSize(h, kh, stride, pad);
  const int64_t ow = convOutSize(wd, kw, stride, pad);
  for (int64_t i = 0; i < n * c * h * wd; ++i)
    dx[i] = T(0);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < f; ++o) {
      const T *dyPlane = dy + (b * f + o) * oh * ow;
      for (int64_t ch = 0; ch < c; ++ch) {
        T *dxPlane = dx + (b * c + ch) * h * wd;
        for (int64_t ki = 0; ki < kh; ++ki) {
          for (int64_t kj = 0; kj < kw; ++kj) {
            const T wv = w[((o * c + ch) * kh + ki) * kw + kj];
            for (int64_t oy = 0; oy < oh; ++oy) {
              const int64_t iy = oy * stride - pad + ki;
              if (iy < 0 || iy >= h)
                continue;
              for (int64_t ox = 0; ox < ow; ++ox) {
                const int64_t ix = ox * stride - pad + kj;
                if (ix < 0 || ix >= wd)
                  continue;
                dxPlane[iy * wd + ix] += wv * dyPlane[oy * ow + ox];
              }
            }
          }
        }
      }
    }
  }
}

/// dw = d(sum dy*y)/dw, summed over the batch. Overwrites dw (does not
/// accumulate).
template <typename T>
void conv2dBackwardFilter(const T *dy, const T *x, T *dw, int64_t n, int64_t c,
                          int64_t h, int64_t wd, int64_t f, int64_t kh,
                          int64_t kw, int64_t stride, int64_t pad) {
  const int64_t oh = convOutSize(h, kh, stride, pad);
  const int64_t ow = convOutSize(wd, kw, stride, pad);
  for (int64_t o = 0; o < f; ++o) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t ki = 0; ki < kh; ++ki) {
        for (int64_t kj = 0; kj < kw; ++kj) {
          T sum = T(0);
          for (int64_t b = 0; b < n; ++b) {
            const T *dyPlane = dy + (b * f + o) * oh * ow;
            const T *xPlane = x + (b * c + ch) * h * wd;
            for (int64_t oy = 0; oy < oh; ++oy) {
              const int64_t iy = oy * stride - pad + ki;
              if (iy < 0 || iy >= h)
                continue;
              for (int64_t ox = 0; ox < ow; ++ox) {
                const int64_t ix = ox * stride - pad + kj;
                if (ix < 0 || ix >= wd)
                  continue;
                sum += dyPlane[oy * ow + ox] * xPlane[iy * wd + ix];
              }
            }
          }
          dw[((o * c + ch) * kh + ki) * kw + kj] = sum;
        }
      }
    }
  }
}

/// db[f] = sum of dy over batch and both spatial axes. dy is [n,f,oh,ow].
template <typename T>
void conv2dBackwardBias(const T *dy, T *db, int64_t n, int64_t f, int64_t oh,
                        int64_t ow) {
  for (int64_t o = 0; o < f; ++o) {
    T sum = T(0);
    for (int64_t b = 0; b < n; ++b) {
      const T *dyPlane = dy + (b * f + o) * oh * ow;
      for (int64_t i = 0; i < oh * ow; ++i)
        sum += dyPlane[i];
    }
    db[o] = sum;
  }
}

} // namespace kiln::ref
