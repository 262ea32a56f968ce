// Autograd transforms (grad, valueAndGrad, vjp, jit's cache) on the blitz's
// own examples, plus the errors a caller can run into.
#include "kiln/Autograd.h"
#include "kiln/runtime/Ops.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace kiln;
using Catch::Matchers::Contains;

namespace {

// out = mean(3 (x + 2)^2) over a 2x2 x: d out / dx = 6 (x + 2) / 4.
Var blitzOut(Var x) { return mean(3.0 * pow(x + 2.0, 2.0), {0, 1}); }

// f(x) = x^2 e^x summed, so that its gradient is f' element by element.
Var squareTimesExp(Var x) { return sum(x * x * exp(x), {0}); }

double norm(const Tensor &t) { return std::sqrt(sum(t * t).item()); }

} // namespace

TEST_CASE("grad of mean(3 (x + 2)^2) at ones(2 2) is 4.5 everywhere",
          "[autograd]") {
  Tensor gradient = grad(blitzOut, ones({2, 2}));
  REQUIRE(gradient.shape() == std::vector<int64_t>{2, 2});
  // 6 * 3 / 4 is exact in float32.
  CHECK(gradient.allClose(Tensor::full({2, 2}, 4.5), 0, 0));
}

TEST_CASE("valueAndGrad returns the value 27 with the gradient",
          "[autograd]") {
  auto [value, gradient] = valueAndGrad(blitzOut, ones({2, 2}));
  CHECK(value == 27.0);
  CHECK(gradient.at({1, 0}) == 4.5);
}

TEST_CASE("grad of x^2 e^x matches 2x e^x + x^2 e^x at random points",
          "[autograd]") {
  // float64, so 1e-5 relative is loose for rounding yet catches any wrong
  // term (dropping either summand changes the result by far more).
  Tensor x = randn({16}, 3, DType::F64);
  Tensor expected = 2.0 * x * exp(x) + x * x * exp(x);
  Tensor gradient = grad(squareTimesExp, x);
  CHECK(gradient.allClose(expected, 1e-5, 1e-12));
}

TEST_CASE("vjp of y = 1024 x with v = (0.1 1.0 0.0001) is 1024 v",
          "[autograd]") {
  Tensor x = randn({3}, 5);
  Tensor v = tensor({0.1, 1.0, 0.0001});
  Tensor product = vjp([](Var t) { return t * 1024.0; }, x, v);
  // Multiplying by a power of two is exact.
  CHECK(product.allClose(v * 1024.0, 0, 0));
}

TEST_CASE("vjp of an elementwise square weighs 2x by v", "[autograd]") {
  Tensor x = tensor({{1, -2}, {3, 0.5}});
  Tensor v = tensor({{1, 0}, {0.5, -1}});
  Tensor product = vjp([](Var t) { return t * t; }, x, v);
  CHECK(product.allClose(tensor({{2, 0}, {3, -1}}), 0, 0));
}

TEST_CASE("jit compiles once per shape and reuses the program",
          "[autograd]") {
  CompiledFunction df = jit(blitzOut);
  CHECK(df.grad(ones({2, 2})).at({0, 0}) == 4.5);
  CHECK(df.compilations() == 1);
  // Same shape and dtype, new values: the cached program, fed the new x.
  CHECK(df.grad(Tensor::zeros({2, 2})).at({1, 1}) == 3.0);
  CHECK(df.valueAndGrad(ones({2, 2})).first == 27.0);
  CHECK(df.compilations() == 1);
  // A new dtype is a new key.
  CHECK(df.grad(ones({2, 2}, DType::F64)).at({0, 1}) == 4.5);
  CHECK(df.compilations() == 2);
  // So is another transform of the same shape.
  CHECK(df(ones({2, 2})).item() == 27.0);
  CHECK(df.compilations() == 3);
}

TEST_CASE("a data-dependent loop runs on the host around a compiled step",
          "[autograd]") {
  CompiledFunction twice = jit([](Var y) { return y * 2.0; });
  Tensor y = tensor({0.5, -0.25, 1.0});
  int doublings = 0;
  while (norm(y) < 1000) {
    y = twice(y);
    ++doublings;
  }
  // |(0.5, -0.25, 1)| = 1.1456...; 2^10 times that is the first above 1000.
  CHECK(doublings == 10);
  CHECK(y.allClose(tensor({512, -256, 1024}), 0, 0));
  CHECK(twice.compilations() == 1);
  // Gradient of the loop's result: the host knows the count, so the vjp of
  // one step applied `doublings` times is 2^10 v.
  Tensor v = tensor({0.1, 1.0, 0.0001});
  Tensor product = v;
  for (int i = 0; i < doublings; ++i)
    product = twice.vjp(y, product);
  CHECK(product.allClose(v * 1024.0, 0, 0));
  CHECK(twice.compilations() == 2);
}

TEST_CASE("grad refuses a function with a non-scalar result", "[autograd]") {
  CHECK_THROWS_WITH(grad([](Var x) { return x * 2.0; }, ones({2, 3})),
                    Contains("returns a [2, 3] tensor") &&
                        Contains("use vjp"));
}

TEST_CASE("vjp refuses a v of the wrong shape", "[autograd]") {
  CHECK_THROWS_WITH(
      vjp([](Var x) { return x * 2.0; }, ones({3}), ones({2})),
      Contains("result shape [3]") && Contains("got [2] float32"));
}

TEST_CASE("transforms refuse int64 arguments", "[autograd]") {
  CHECK_THROWS_WITH(grad(blitzOut, ones({2, 2}, DType::I64)),
                    Contains("int64") && Contains("Tensor::to"));
}
