// conv2d and its three gradients: a hand-computed case, the definition on
// random shapes, and finite differences.
#include "kiln/kernels/Conv.h"

#include "GradCheck.h"

#include <catch2/catch.hpp>

#include <vector>

using kiln::test::checkClose;
using kiln::test::numericVjp;
using kiln::test::poisoned;
using kiln::test::randomVec;
using kiln::test::Vec;

namespace {

struct ConvShape {
  int64_t n, c, h, w, f, kh, kw, stride, pad;
  int64_t oh() const { return kiln::ref::convOutSize(h, kh, stride, pad); }
  int64_t ow() const { return kiln::ref::convOutSize(w, kw, stride, pad); }
  size_t xSize() const { return n * c * h * w; }
  size_t wSize() const { return f * c * kh * kw; }
  size_t ySize() const { return n * f * oh() * ow(); }
};

// Batch 1 and 3, stride 1 and 2, padding 0/1/2, non-square images and kernels,
// and stride-2 shapes whose last input rows/columns no window reaches.
const std::vector<ConvShape> kShapes = {
    {1, 1, 5, 5, 1, 3, 3, 1, 0}, {3, 2, 5, 7, 3, 3, 3, 1, 1},
    {1, 2, 7, 6, 2, 3, 2, 2, 1}, {3, 1, 6, 5, 2, 2, 3, 2, 2},
    {1, 3, 4, 4, 2, 1, 1, 2, 0}, {3, 2, 8, 5, 2, 3, 3, 2, 1},
    {1, 1, 4, 6, 1, 5, 5, 1, 2},
};

Vec conv(const ConvShape &s, const Vec &x, const Vec &w, const Vec &bias) {
  Vec y = poisoned(s.ySize());
  kiln::ref::conv2d(x.data(), w.data(), bias.data(), y.data(), s.n, s.c, s.h,
                    s.w, s.f, s.kh, s.kw, s.stride, s.pad);
  return y;
}

} // namespace

TEST_CASE("convOutSize is (in + 2 pad - k) / stride + 1", "[conv]") {
  CHECK(kiln::ref::convOutSize(3, 3, 2, 1) == 2);
  CHECK(kiln::ref::convOutSize(28, 5, 1, 0) == 24);
  CHECK(kiln::ref::convOutSize(8, 3, 2, 1) == 4); // 9/2 rounds down
  CHECK(kiln::ref::convOutSize(5, 5, 1, 0) == 1);
}

TEMPLATE_TEST_CASE("conv2d on a 1x1x3x3 image with padding 1 and stride 2",
                   "[conv]", float, double) {
  const TestType x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const TestType w[9] = {1, 0, -1, 2, 1, 0, 0, -1, 1};
  const TestType bias[1] = {0.5};
  // Windows of the zero-padded 5x5 image start at rows/cols 0 and 2:
  //   (0,0): 1*1 + (-1*4 + 1*5)            = 2
  //   (0,1): (2*2 + 1*3) + (-1*6)          = 1
  //   (1,0): (-1*5) + (1*7)                = 2
  //   (1,1): (1*5) + (2*8 + 1*9)           = 30
  TestType y[4];
  kiln::ref::conv2d(x, w, bias, y, 1, 1, 3, 3, 1, 3, 3, 2, 1);
  CHECK(y[0] == 2.5);
  CHECK(y[1] == 1.5);
  CHECK(y[2] == 2.5);
  CHECK(y[3] == 30.5);

  kiln::ref::conv2d(x, w, nullptr, y, 1, 1, 3, 3, 1, 3, 3, 2, 1);
  CHECK(y[0] == 2);
  CHECK(y[3] == 30);
}

TEST_CASE("conv2d matches the definition on random shapes", "[conv]") {
  for (const ConvShape &s : kShapes) {
    INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w
                    << " f=" << s.f << " k=" << s.kh << "x" << s.kw
                    << " stride=" << s.stride << " pad=" << s.pad);
    const Vec x = randomVec(s.xSize(), 1), w = randomVec(s.wSize(), 2),
              bias = randomVec(s.f, 3);
    const Vec y = conv(s, x, w, bias);
    // y[b,o,oy,ox] = bias[o] + sum_{ch,ki,kj} w[o,ch,ki,kj] *
    // xpad[b,ch,oy*s+ki,ox*s+kj]
    Vec expected;
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t o = 0; o < s.f; ++o)
        for (int64_t oy = 0; oy < s.oh(); ++oy)
          for (int64_t ox = 0; ox < s.ow(); ++ox) {
            double sum = bias[o];
            for (int64_t ch = 0; ch < s.c; ++ch)
              for (int64_t ki = 0; ki < s.kh; ++ki)
                for (int64_t kj = 0; kj < s.kw; ++kj) {
                  const int64_t iy = oy * s.stride + ki - s.pad;
                  const int64_t ix = ox * s.stride + kj - s.pad;
                  if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w)
                    continue;
                  sum += w[((o * s.c + ch) * s.kh + ki) * s.kw + kj] *
                         x[((b * s.c + ch) * s.h + iy) * s.w + ix];
                }
            expected.push_back(sum);
          }
    // Same products summed in another order: rounding differences only.
    checkClose(y, expected, 1e-12);
  }
}

TEST_CASE("conv2d gradients match finite differences", "[conv][grad]") {
  for (const ConvShape &s : kShapes) {
    INFO("shape n=" << s.n << " c=" << s.c << " h=" << s.h << " w=" << s.w
                    << " f=" << s.f << " k=" << s.kh << "x" << s.kw
                    << " stride=" << s.stride << " pad=" << s.pad);
    const Vec x = randomVec(s.xSize(), 11), w = randomVec(s.wSize(), 12),
              bias = randomVec(s.f, 13), dy = randomVec(s.ySize(), 14);

    Vec dx = poisoned(s.xSize());
    kiln::ref::conv2dBackwardInput(dy.data(), w.data(), dx.data(), s.n, s.c,
                                   s.h, s.w, s.f, s.kh, s.kw, s.stride, s.pad);
    checkClose(dx, numericVjp([&](const Vec &v) { return conv(s, v, w, bias); },
                              x, dy));

    Vec dw = poisoned(s.wSize());
    kiln::ref::conv2dBackwardFilter(dy.data(), x.data(), dw.data(), s.n, s.c,
                                    s.h, s.w, s.f, s.kh, s.kw, s.stride, s.pad);
    checkClose(dw, numericVjp([&](const Vec &v) { return conv(s, x, v, bias); },
                              w, dy));

    Vec db = poisoned(s.f);
    kiln::ref::conv2dBackwardBias(dy.data(), db.data(), s.n, s.f, s.oh(),
                                  s.ow());
    checkClose(db, numericVjp([&](const Vec &v) { return conv(s, x, w, v); },
                              bias, dy));
  }
}

TEMPLATE_TEST_CASE("conv2d gradients on a hand-sized case", "[conv][grad]",
                   float, double) {
  // 1x1x2x2 image, 1x1x2x2 kernel, pad 0: a single output y = sum(w*x).
  const TestType x[4] = {1, 2, 3, 4}, w[4] = {5, 6, 7, 8}, dy[1] = {2};
  TestType dx[4], dw[4], db[1];
  kiln::ref::conv2dBackwardInput(dy, w, dx, 1, 1, 2, 2, 1, 2, 2, 1, 0);
  kiln::ref::conv2dBackwardFilter(dy, x, dw, 1, 1, 2, 2, 1, 2, 2, 1, 0);
  kiln::ref::conv2dBackwardBias(dy, db, 1, 1, 1, 1);
  for (int i = 0; i < 4; ++i) {
    CHECK(dx[i] == 2 * w[i]);
    CHECK(dw[i] == 2 * x[i]);
  }
  CHECK(db[0] == 2);
}
