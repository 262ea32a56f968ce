// Autograd transforms: trace a Var -> Var function, derive its gradient
// program with compileFunction, and keep the result per shape and dtype.
#include "kiln/Autograd.h"

#include "kiln/Compiler.h"
#include "kiln/runtime/Error.h"

#include <numeric>

namespace kiln {

namespace {
const char *transformName(int transform) {
  static const char *names[] = {"value", "grad", "vjp"};
  return names[transform];
}

std::vector<int64_t> allAxes(int64_t rank) {
  std::vector<int64_t> axes(rank);
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}
} // namespace

CompiledFunction::CompiledFunction(TracedFunction fn) : fn_(std::move(fn)) {
  if (!fn_)
    throw Error("kiln::jit: the function is empty");
}

CompiledFunction::Compiled &CompiledFunction::compiled(Transform transform,
                                                       const Tensor &x) {
  const char *what = transformName(static_cast<int>(transform));
  if (!x.defined())
    throw Error(std::string("kiln::") + what + ": the argument is undefined");
  if (x.dtype() == DType::I64)
    throw Error(std::string("kiln::") + what +
                ": the argument is int64; functions are traced over float32 "
                "or float64 tensors (convert with Tensor::to)");
  Key key{transform, x.shape(), x.dtype()};
  auto found = cache_.find(key);
  if (found != cache_.end())
    return found->second;

  Compiled entry;
  entry.argument = Tensor::zeros(x.shape(), x.dtype());
  Graph graph;
  Var in = graph.param("x", entry.argument);
  Var out = fn_(in);
  if (&out.graph() != &graph)
    throw Error(std::string("kiln::") + what +
                ": the function returned a value from another trace; build "
                "the result from its argument");
  entry.resultShape = out.shape();
  if (transform == Transform::Grad && out.dim() != 0)
    throw Error("kiln::grad: the function returns a " +
                shapeString(out.shape()) +
                " tensor, but a gradient needs a scalar (0-d) result; reduce "
                "it with sum or mean, or use vjp");
  if (transform == Transform::Vjp) {
    Var v = graph.input("v", out.shape(), out.dtype());
    out = out.dim() == 0 ? out * v : sum(out * v, allAxes(out.dim()));
  }
  entry.program = std::make_unique<Program>(
      compileFunction(graph, out, transform != Transform::Value));
  ++compilations_;
  return cache_.emplace(std::move(key), std::move(entry)).first->second;
}

Tensor CompiledFunction::operator()(const Tensor &x) {
  Compiled &c = compiled(Transform::Value, x);
  c.argument.copyFrom(x);
  return c.program->run("f", {})[0].clone();
}

std::pair<double, Tensor> CompiledFunction::valueAndGrad(const Tensor &x) {
  Compiled &c = compiled(Transform::Grad, x);
  c.argument.copyFrom(x);
  const std::vector<Tensor> &outputs = c.program->run("f_grad", {});
  return {outputs[0].item(), outputs[1].clone()};
}

Tensor CompiledFunction::grad(const Tensor &x) {
  return valueAndGrad(x).second;
}

Tensor CompiledFunction::vjp(const Tensor &x, const Tensor &v) {
  Compiled &c = compiled(Transform::Vjp, x);
  if (!v.defined() || v.shape() != c.resultShape || v.dtype() != x.dtype())
    throw Error("kiln::vjp: v must have the function's result shape " +
                shapeString(c.resultShape) + " and dtype " +
                dtypeName(x.dtype()) + ", got " +
                (v.defined() ? shapeString(v.shape()) + " " +
                                   dtypeName(v.dtype())
                             : std::string("an undefined tensor")));
  c.argument.copyFrom(x);
  return c.program->run("f_grad", {v.contiguous()})[1].clone();
}

CompiledFunction jit(TracedFunction fn) {
  return CompiledFunction(std::move(fn));
}

Tensor grad(TracedFunction fn, const Tensor &x) {
  return CompiledFunction(std::move(fn)).grad(x);
}

std::pair<double, Tensor> valueAndGrad(TracedFunction fn, const Tensor &x) {
  return CompiledFunction(std::move(fn)).valueAndGrad(x);
}

Tensor vjp(TracedFunction fn, const Tensor &x, const Tensor &v) {
  return CompiledFunction(std::move(fn)).vjp(x, v);
}

} // namespace kiln
