// The umbrella header compiles on its own and its overview example does what it
// says.
#include "kiln/kernels/Reference.h"

#include <catch2/catch.hpp>

TEST_CASE("Reference.h overview example: conv -> relu -> pool", "[reference]") {
  float x[16];
  for (int i = 0; i < 16; ++i)
    x[i] = static_cast<float>(i + 1) * (i % 3 == 0 ? -1.0f : 1.0f);
  // Only the centre tap is set, so with padding 1 the conv is x + bias.
  const float w[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, b[1] = {0.5f};
  const int64_t oh = kiln::ref::convOutSize(4, 3, 1, 1);
  REQUIRE(oh == 4);
  float conv[16], act[16], pooled[4];
  kiln::ref::conv2d(x, w, b, conv, 1, 1, 4, 4, 1, 3, 3, 1, 1);
  kiln::ref::relu(conv, act, 16);
  kiln::ref::maxPool2d(act, pooled, 1, 1, oh, oh, 2, 2);
  // x = [-1 2 3 -4 / 5 6 -7 8 / 9 -10 11 12 / -13 14 15 -16]; +0.5, clamp, 2x2
  // max.
  CHECK(pooled[0] == 6.5f);
  CHECK(pooled[1] == 8.5f);
  CHECK(pooled[2] == 14.5f);
  CHECK(pooled[3] == 15.5f);
}
