// Autograd as program transforms: C++ functions over symbolic values, traced,
// differentiated and compiled for the CPU.
//
//   auto f = [](kiln::Var x) { return kiln::mean(3.0 * kiln::pow(x + 2.0, 2.0),
//                                                {0, 1}); };
//   kiln::Tensor g = kiln::grad(f, kiln::ones({2, 2}));  // 4.5 everywhere
//
//   kiln::CompiledFunction df = kiln::jit(f);   // keeps what it compiles
//   auto [value, gradient] = df.valueAndGrad(kiln::ones({2, 2}));  // 27, 4.5
//
// A function is traced with its argument as the only parameter of a fresh
// Graph; grad runs the "f_grad" entry of compileFunction(graph, out, true).
// There is no tape: the gradient is a second program derived from the first,
// so data-dependent control flow (a loop until some norm is reached) stays in
// host C++ around compiled calls.
#ifndef KILN_AUTOGRAD_H
#define KILN_AUTOGRAD_H

#include "kiln/nn/Graph.h"
#include "kiln/runtime/Program.h"
#include "kiln/runtime/Tensor.h"

#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace kiln {

/// A function written with the DSL: one symbolic argument, one result.
using TracedFunction = std::function<Var(Var)>;

/// `fn` compiled on demand and kept, once per (transform, shape, dtype).
///
/// The cache key is the triple (which transform: value, grad or vjp; the
/// argument's shape; its dtype), and the function's identity is this object:
/// two CompiledFunctions made from the same lambda compile separately, and
/// the same object called again with an argument of the same shape and dtype
/// reuses its program (it copies the argument into the program's parameter
/// and runs it). Whatever `fn` captures is baked into the trace as constants
/// the first time a key is seen.
class CompiledFunction {
public:
  explicit CompiledFunction(TracedFunction fn);

  /// fn(x), any result shape.
  Tensor operator()(const Tensor &x);
  /// d fn(x) / dx, the shape of x; fn must return a scalar (0-d).
  Tensor grad(const Tensor &x);
  /// fn(x) and its gradient together (one run).
  std::pair<double, Tensor> valueAndGrad(const Tensor &x);
  /// vᵀ J: the gradient of sum(fn(x) * v), where v has fn(x)'s shape.
  Tensor vjp(const Tensor &x, const Tensor &v);

  /// Programs traced and compiled so far: one per distinct key.
  int64_t compilations() const { return compilations_; }

private:
  enum class Transform { Value, Grad, Vjp };
  struct Key {
    Transform transform;
    std::vector<int64_t> shape;
    DType dtype;
    auto operator<=>(const Key &) const = default;
  };
  struct Compiled {
    Tensor argument; ///< the program's parameter: x is copied in per call
    std::vector<int64_t> resultShape;
    std::unique_ptr<Program> program;
  };

  Compiled &compiled(Transform transform, const Tensor &x);

  TracedFunction fn_;
  std::map<Key, Compiled> cache_;
  int64_t compilations_ = 0;
};

/// Wraps `fn` so that repeated calls reuse compiled programs.
CompiledFunction jit(TracedFunction fn);

// One-shot transforms: each call traces and compiles afresh. Use jit() when
// calling more than once.

/// d fn(x) / dx for a scalar-valued fn.
Tensor grad(TracedFunction fn, const Tensor &x);
std::pair<double, Tensor> valueAndGrad(TracedFunction fn, const Tensor &x);
/// vᵀ J for any fn, with v shaped like fn(x).
Tensor vjp(TracedFunction fn, const Tensor &x, const Tensor &v);

} // namespace kiln

#endif // KILN_AUTOGRAD_H
