// Blitz, part 4: gradients as compiled programs. A function over kiln::Var is
// traced, differentiated and compiled; grad, valueAndGrad and vjp return
// plain tensors.
#include "kiln/Autograd.h"
#include "kiln/runtime/Ops.h"

#include <cmath>
#include <iostream>

int main() {
  // out = mean(3 (x + 2)^2), written once as C++ over a symbolic x.
  auto out = [](kiln::Var x) {
    return kiln::mean(3.0 * kiln::pow(x + 2.0, 2.0), {0, 1});
  };
  kiln::Tensor x = kiln::ones({2, 2});
  auto [value, gradient] = kiln::valueAndGrad(out, x);
  std::cout << "out = " << value << "\n";
  std::cout << "d out / dx =\n" << gradient << "\n";

  // f(x) = x^2 e^x against its closed-form derivative 2x e^x + x^2 e^x.
  auto f = [](kiln::Var t) { return kiln::sum(t * t * kiln::exp(t), {0}); };
  kiln::Tensor points = kiln::randn({5}, /*seed=*/4, kiln::DType::F64);
  kiln::Tensor autograd = kiln::grad(f, points);
  kiln::Tensor closedForm =
      2.0 * points * kiln::exp(points) + points * points * kiln::exp(points);
  std::cout << "x^2 e^x: autograd matches closed form: " << std::boolalpha
            << autograd.allClose(closedForm, 1e-5) << "\n";

  // A data-dependent loop stays in C++; each step is one compiled call.
  // jit keeps the program, so the loop compiles it once.
  kiln::CompiledFunction twice = kiln::jit([](kiln::Var y) { return y * 2.0; });
  kiln::Tensor y = kiln::tensor({0.5, -0.25, 1.0});
  int doublings = 0;
  while (std::sqrt(kiln::sum(y * y).item()) < 1000) {
    y = twice(y);
    ++doublings;
  }
  std::cout << "doubled " << doublings << " times: " << y << "\n";

  // y is not a scalar, so ask for a vector-Jacobian product: v^T dy/dx.
  // The loop ran `doublings` times, so chain that many vjps of one step.
  kiln::Tensor v = kiln::tensor({0.1, 1.0, 0.0001});
  kiln::Tensor product = v;
  for (int i = 0; i < doublings; ++i)
    product = twice.vjp(y, product);
  std::cout << "v^T J = " << product << "\n";
  std::cout << "programs compiled: " << twice.compilations()
            << " (the step and its vjp)\n";

  // detach inside a traced function: x * detach(x) differentiates as if the
  // second factor were a constant, so the gradient is x, not 2x.
  auto halfBlocked = [](kiln::Var t) {
    return kiln::sum(t * kiln::detach(t), {0});
  };
  kiln::Tensor blocked = kiln::grad(halfBlocked, kiln::tensor({1.0, 2.0, 3.0}));
  std::cout << "d sum(x * detach(x)) / dx = " << blocked << "\n";
  return 0;
}
