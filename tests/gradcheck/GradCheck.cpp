// One table of differentiable ops, each checked twice: the compiled gradient
// against central finite differences of the compiled function, and the
// compiled forward value against kiln::ref. Adding an op = adding a line to
// opCases(); every line becomes its own Catch2 test, named after the op.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "kiln/Compiler.h"
#include "kiln/kernels/Reference.h"
#include "kiln/nn/Graph.h"
#include "kiln/runtime/Random.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>

using namespace kiln;

namespace {

using Shape = std::vector<int64_t>;

constexpr uint64_t kSeed = 20240601;

/// Creates an op's operands as F64 parameters (so each gets a gradient) or
/// inputs (labels), drawing every value from one seeded generator: building
/// the same case twice gives the same tensors.
class Builder {
public:
  explicit Builder(Graph &graph) : graph_(graph), gen_(kSeed) {}

  Var normal(Shape shape) {
    return param(normalTensor(shape, gen_, DType::F64));
  }
  /// In [0.5, 2): safe for log, as a divisor and as a pow base.
  Var positive(Shape shape) {
    return param(uniformTensor(shape, 0.5, 2.0, gen_, DType::F64));
  }
  /// A shuffle of values 0.1 apart, none within 0.01 of zero: relu, max and
  /// max-pool have no ties or kinks within eps of any element.
  Var distinct(Shape shape) {
    Tensor t = Tensor::empty(shape, DType::F64);
    std::vector<int64_t> order(t.numel());
    std::iota(order.begin(), order.end(), 0);
    gen_.shuffle(order);
    const double half = 0.5 * static_cast<double>(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i)
      t.data<double>()[i] = (static_cast<double>(order[i]) - half) * 0.1 + 0.037;
    return param(t);
  }
  Var labels(Shape shape, int64_t classes) {
    Tensor t = uniformTensor(shape, 0, static_cast<double>(classes), gen_,
                             DType::I64);
    std::string name = "x" + std::to_string(tensors_.size());
    inputs_[name] = t;
    tensors_.push_back(t);
    return graph_.input(name, shape, DType::I64);
  }

  /// Every operand in creation order: what a reference function receives.
  const std::vector<Tensor> &tensors() const { return tensors_; }
  std::map<std::string, Tensor> &inputs() { return inputs_; }
  Generator &generator() { return gen_; }

private:
  Var param(Tensor t) {
    tensors_.push_back(t);
    return graph_.param("p" + std::to_string(tensors_.size() - 1), t);
  }

  Graph &graph_;
  Generator gen_;
  std::vector<Tensor> tensors_;
  std::map<std::string, Tensor> inputs_;
};

using Operands = std::vector<Tensor>;

struct OpCase {
  std::string name;
  std::function<Var(Builder &)> build;
  /// The op's value from kiln::ref; empty where no reference kernel exists.
  std::function<Tensor(const Operands &)> reference;
  /// Compile with kiln-fuse, so that the fused ops' lowerings are checked.
  bool fuse = false;
};

const double *ptr(const Tensor &t) { return t.data<double>(); }
double *ptr(Tensor &t) { return t.data<double>(); }

Tensor conv2dRef(const Operands &t, int64_t stride, int64_t pad) {
  const Shape &x = t[0].shape(), &w = t[1].shape();
  const int64_t oh = ref::convOutSize(x[2], w[2], stride, pad);
  const int64_t ow = ref::convOutSize(x[3], w[3], stride, pad);
  Tensor y = Tensor::empty({x[0], w[0], oh, ow}, DType::F64);
  ref::conv2d(ptr(t[0]), ptr(t[1]), t.size() > 2 ? ptr(t[2]) : nullptr,
              ptr(y), x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride, pad);
  return y;
}

OpCase conv2dCase(std::string name, Shape x, int64_t filters, int64_t kernel,
                  int64_t stride, int64_t pad, bool bias = true) {
  return {
      std::move(name),
      [=](Builder &b) {
        Var input = b.normal(x);
        Var weight = b.normal({filters, x[1], kernel, kernel});
        if (!bias)
          return conv2d(input, weight, stride, pad);
        return conv2d(input, weight, b.normal({filters}), stride, pad);
      },
      [=](const Operands &t) { return conv2dRef(t, stride, pad); }};
}

/// max_pool2d(relu(conv2d(x, w, b))): kiln-fuse makes kiln.conv2d_relu_pool
/// of it, and of its gradient kiln.conv2d_relu_pool_backward.
OpCase convReluPoolCase(std::string name, Shape x, int64_t filters,
                        int64_t kernel, int64_t stride, int64_t pad,
                        int64_t poolKernel, int64_t poolStride,
                        bool bias = true) {
  OpCase conv = conv2dCase("", x, filters, kernel, stride, pad, bias);
  return {std::move(name),
          [=](Builder &b) {
            return maxPool2d(relu(conv.build(b)), poolKernel, poolStride);
          },
          [=](const Operands &t) {
            Tensor y = conv.reference(t);
            ref::relu(ptr(y), ptr(y), y.numel());
            const Shape &s = y.shape();
            const int64_t oh = ref::convOutSize(s[2], poolKernel, poolStride, 0);
            const int64_t ow = ref::convOutSize(s[3], poolKernel, poolStride, 0);
            Tensor pooled = Tensor::empty({s[0], s[1], oh, ow}, DType::F64);
            ref::maxPool2d(ptr(y), ptr(pooled), s[0], s[1], s[2], s[3],
                           poolKernel, poolStride);
            return pooled;
          },
          /*fuse=*/true};
}

OpCase maxPoolCase(std::string name, Shape x, int64_t kernel,
                   int64_t stride) {
  return {std::move(name),
          [=](Builder &b) { return maxPool2d(b.distinct(x), kernel, stride); },
          [=](const Operands &t) {
            const int64_t oh = ref::convOutSize(x[2], kernel, stride, 0);
            const int64_t ow = ref::convOutSize(x[3], kernel, stride, 0);
            Tensor y = Tensor::empty({x[0], x[1], oh, ow}, DType::F64);
            ref::maxPool2d(ptr(t[0]), ptr(y), x[0], x[1], x[2], x[3], kernel,
                           stride);
            return y;
          }};
}

OpCase matmulCase(std::string name, bool ta, bool tb) {
  const int64_t m = 3, k = 4, n = 5;
  return {std::move(name),
          [=](Builder &b) {
            Var a = b.normal(ta ? Shape{k, m} : Shape{m, k});
            Var c = b.normal(tb ? Shape{n, k} : Shape{k, n});
            return matmul(a, c, ta, tb);
          },
          [=](const Operands &t) {
            Tensor y = Tensor::empty({m, n}, DType::F64);
            ref::matmul(ptr(t[0]), ptr(t[1]), ptr(y), m, k, n, ta, tb);
            return y;
          }};
}

using ReduceKernel = void (*)(const double *, const std::vector<int64_t> &,
                              const std::vector<int64_t> &, double *);

OpCase reduceCase(std::string name, Var (*op)(Var, std::vector<int64_t>, bool),
                  ReduceKernel reduction, Shape axes, bool keepdim) {
  const Shape x = {3, 4, 5};
  return {std::move(name),
          [=](Builder &b) { return op(b.distinct(x), axes, keepdim); },
          [=](const Operands &t) {
            Shape kept;
            for (int64_t d = 0; d < 3; ++d)
              if (std::find(axes.begin(), axes.end(), d) == axes.end())
                kept.push_back(x[d]);
            Tensor y = Tensor::empty(kept, DType::F64);
            reduction(ptr(t[0]), x, axes, ptr(y));
            return y;
          }};
}

/// The reference of an elementwise op on operands of the output's shape.
template <class Kernel> auto elementwiseRef(Kernel kernel) {
  return [kernel](const Operands &t) {
    Tensor y = Tensor::empty(t[0].shape(), DType::F64);
    kernel(ptr(t[0]), ptr(y), t[0].numel());
    return y;
  };
}

template <class Kernel> auto binaryRef(Kernel kernel) {
  return [kernel](const Operands &t) {
    Tensor y = Tensor::empty(t[0].shape(), DType::F64);
    kernel(ptr(t[0]), ptr(t[1]), ptr(y), t[0].numel());
    return y;
  };
}

Tensor broadcastRef(const Tensor &x, const Shape &shape) {
  Tensor y = Tensor::empty(shape, DType::F64);
  ref::broadcastTo(ptr(x), x.shape(), ptr(y), shape);
  return y;
}

ref::LossReduction refReduction(Reduction reduction) {
  switch (reduction) {
  case Reduction::Mean:
    return ref::LossReduction::Mean;
  case Reduction::Sum:
    return ref::LossReduction::Sum;
  case Reduction::None:
    return ref::LossReduction::None;
  }
  throw std::logic_error("unknown reduction");
}

/// The loss's shape: a scalar, or `unreduced` for Reduction::None.
Shape lossShape(Reduction reduction, Shape unreduced) {
  return reduction == Reduction::None ? unreduced : Shape{};
}

// Losses with each reduction. For none, checkGradient's sum(out * w) makes
// the cotangent a random vector, not ones.
OpCase crossEntropyCase(std::string name, Reduction reduction) {
  const int64_t n = 4, c = 5;
  return {std::move(name),
          [=](Builder &b) {
            Var logits = b.normal({n, c});
            return crossEntropy(logits, b.labels({n}, c), reduction);
          },
          [=](const Operands &t) {
            Tensor y = Tensor::empty(lossShape(reduction, {n}), DType::F64);
            ref::softmaxCrossEntropy(ptr(t[0]), t[1].data<int64_t>(), ptr(y),
                                     n, c, refReduction(reduction));
            return y;
          }};
}

OpCase mseLossCase(std::string name, Reduction reduction) {
  const Shape x = {3, 4};
  return {std::move(name),
          [=](Builder &b) {
            Var input = b.normal(x);
            return mseLoss(input, b.normal(x), reduction);
          },
          [=](const Operands &t) {
            Tensor y = Tensor::empty(lossShape(reduction, x), DType::F64);
            ref::mseLoss(ptr(t[0]), ptr(t[1]), ptr(y), t[0].numel(),
                         refReduction(reduction));
            return y;
          }};
}

using Make = Var (Builder::*)(Shape);

/// An op of two operands, created in a fixed order: the operands of an
/// overloaded operator are evaluated in an unspecified one.
std::function<Var(Builder &)> binary(Make makeA, Shape a, Make makeB, Shape b,
                                     Var (*op)(Var, Var)) {
  return [=](Builder &builder) {
    Var lhs = (builder.*makeA)(a);
    Var rhs = (builder.*makeB)(b);
    return op(lhs, rhs);
  };
}
Var plus(Var a, Var b) { return a + b; }
Var minus(Var a, Var b) { return a - b; }
Var times(Var a, Var b) { return a * b; }
Var divide(Var a, Var b) { return a / b; }
Var power(Var a, Var b) { return kiln::pow(a, b); }

const std::vector<OpCase> &opCases() {
  static const std::vector<OpCase> cases = {
      conv2dCase("conv2d n1 c2 7x9 k3 s1 p0", {1, 2, 7, 9}, 3, 3, 1, 0),
      conv2dCase("conv2d n3 c2 7x9 k3 s1 p1", {3, 2, 7, 9}, 3, 3, 1, 1),
      conv2dCase("conv2d n1 c2 7x9 k3 s2 p0", {1, 2, 7, 9}, 3, 3, 2, 0),
      conv2dCase("conv2d n3 c2 7x9 k3 s2 p1", {3, 2, 7, 9}, 3, 3, 2, 1),
      conv2dCase("conv2d n3 c1 8x8 k5 s1 p2", {3, 1, 8, 8}, 2, 5, 1, 2),
      conv2dCase("conv2d n1 c2 9x7 k3 s2 p2", {1, 2, 9, 7}, 2, 3, 2, 2),
      conv2dCase("conv2d no bias n3 c2 7x9 k3 s1 p1", {3, 2, 7, 9}, 3, 3, 1, 1,
                 false),
      convReluPoolCase("conv2d relu max_pool2d fused", {2, 2, 8, 8}, 3, 3, 1,
                       1, 2, 2),
      convReluPoolCase("conv2d relu max_pool2d fused overlapping windows",
                       {2, 2, 9, 9}, 3, 3, 2, 1, 3, 2),
      convReluPoolCase("conv2d relu max_pool2d fused no bias uncovered edge",
                       {1, 1, 7, 7}, 2, 3, 1, 0, 2, 2, false),
      maxPoolCase("max_pool2d k2 s2", {3, 2, 6, 8}, 2, 2),
      maxPoolCase("max_pool2d k3 s2 overlapping", {2, 2, 7, 9}, 3, 2),
      maxPoolCase("max_pool2d k3 s1", {1, 2, 5, 6}, 3, 1),
      {"relu", [](Builder &b) { return relu(b.distinct({4, 6})); },
       elementwiseRef(ref::relu<double>)},
      matmulCase("matmul", false, false),
      matmulCase("matmul transposeA", true, false),
      matmulCase("matmul transposeB", false, true),
      matmulCase("matmul transposeA transposeB", true, true),
      {"linear",
       [](Builder &b) {
         Var x = b.normal({3, 4});
         Var w = b.normal({5, 4});
         return linear(x, w, b.normal({5}));
       },
       [](const Operands &t) {
         Tensor y = Tensor::empty({3, 5}, DType::F64);
         ref::linear(ptr(t[0]), ptr(t[1]), ptr(t[2]), ptr(y), 3, 4, 5);
         return y;
       }},
      // kiln.linear {relu} forward, kiln.bias_relu_backward backward.
      {"linear relu fused",
       [](Builder &b) {
         Var x = b.normal({3, 4});
         Var w = b.normal({5, 4});
         return relu(linear(x, w, b.normal({5})));
       },
       [](const Operands &t) {
         Tensor y = Tensor::empty({3, 5}, DType::F64);
         ref::linear(ptr(t[0]), ptr(t[1]), ptr(t[2]), ptr(y), 3, 4, 5);
         ref::relu(ptr(y), ptr(y), y.numel());
         return y;
       },
       /*fuse=*/true},
      {"reshape", [](Builder &b) { return b.normal({2, 3, 4}).view({4, -1}); },
       [](const Operands &t) { return t[0].clone().reshape({4, 6}); }},
      {"flatten", [](Builder &b) { return flatten(b.normal({2, 3, 2, 2})); },
       [](const Operands &t) { return t[0].clone().reshape({2, 12}); }},
      {"transpose",
       [](Builder &b) { return transpose(b.normal({2, 3, 4}), {2, 0, 1}); },
       [](const Operands &t) {
         Tensor y = Tensor::empty({4, 2, 3}, DType::F64);
         ref::transpose(ptr(t[0]), t[0].shape(), {2, 0, 1}, ptr(y));
         return y;
       }},
      {"broadcastTo",
       [](Builder &b) { return broadcastTo(b.normal({3, 1}), {2, 3, 4}); },
       [](const Operands &t) { return broadcastRef(t[0], {2, 3, 4}); }},
      {"add broadcasting",
       binary(&Builder::normal, {3, 1, 4}, &Builder::normal, {5, 1}, plus),
       [](const Operands &t) {
         Tensor a = broadcastRef(t[0], {3, 5, 4});
         Tensor c = broadcastRef(t[1], {3, 5, 4});
         return binaryRef(ref::add<double>)({a, c});
       }},
      {"mul broadcasting",
       binary(&Builder::normal, {2, 3, 4}, &Builder::normal, {4}, times),
       [](const Operands &t) {
         Tensor c = broadcastRef(t[1], {2, 3, 4});
         return binaryRef(ref::mul<double>)({t[0], c});
       }},
      {"add", binary(&Builder::normal, {3, 4}, &Builder::normal, {3, 4}, plus),
       binaryRef(ref::add<double>)},
      {"sub", binary(&Builder::normal, {3, 4}, &Builder::normal, {3, 4}, minus),
       binaryRef(ref::sub<double>)},
      {"mul", binary(&Builder::normal, {3, 4}, &Builder::normal, {3, 4}, times),
       binaryRef(ref::mul<double>)},
      {"div", binary(&Builder::normal, {3, 4}, &Builder::positive, {3, 4}, divide),
       binaryRef(ref::div<double>)},
      {"neg", [](Builder &b) { return -b.normal({3, 4}); },
       elementwiseRef(ref::neg<double>)},
      {"exp", [](Builder &b) { return kiln::exp(b.normal({3, 4})); },
       elementwiseRef(ref::exp<double>)},
      {"log", [](Builder &b) { return kiln::log(b.positive({3, 4})); },
       elementwiseRef(ref::log<double>)},
      {"pow tensor exponent",
       binary(&Builder::positive, {3, 4}, &Builder::normal, {3, 4}, power),
       binaryRef(ref::pow<double>)},
      {"pow scalar exponent",
       [](Builder &b) { return kiln::pow(b.positive({3, 4}), 2.5); },
       [](const Operands &t) {
         Tensor e = Tensor::full(t[0].shape(), 2.5, DType::F64);
         return binaryRef(ref::pow<double>)({t[0], e});
       }},
      // PyTorch squares negative bases too: x^2 must not go through log(x).
      {"pow square of negative base",
       [](Builder &b) { return kiln::pow(b.normal({3, 4}), 2.0); },
       [](const Operands &t) {
         Tensor e = Tensor::full(t[0].shape(), 2.0, DType::F64);
         return binaryRef(ref::pow<double>)({t[0], e});
       }},
      reduceCase("sum axis 1", kiln::sum, ref::reduceSum<double>, {1}, false),
      reduceCase("sum axes 0 2 keepdim", kiln::sum, ref::reduceSum<double>, {0, 2},
                 true),
      reduceCase("sum all axes", kiln::sum, ref::reduceSum<double>, {0, 1, 2},
                 false),
      reduceCase("mean axis 2", kiln::mean, ref::reduceMean<double>, {2}, false),
      reduceCase("mean axes 0 1 keepdim", kiln::mean, ref::reduceMean<double>,
                 {0, 1}, true),
      reduceCase("max axis 1", kiln::max, ref::reduceMax<double>, {1}, false),
      reduceCase("max axes 0 2 keepdim", kiln::max, ref::reduceMax<double>, {0, 2},
                 true),
      crossEntropyCase("crossEntropy mean", Reduction::Mean),
      crossEntropyCase("crossEntropy sum", Reduction::Sum),
      crossEntropyCase("crossEntropy none", Reduction::None),
      mseLossCase("mseLoss mean", Reduction::Mean),
      mseLossCase("mseLoss sum", Reduction::Sum),
      mseLossCase("mseLoss none", Reduction::None),
  };
  return cases;
}

/// The entry's Input arguments, in call order, looked up by name.
std::vector<Tensor> inputsFor(const Program &program, const std::string &entry,
                              const std::map<std::string, Tensor> &byName) {
  std::vector<Tensor> inputs;
  for (const ArgSpec &arg : program.entry(entry).args)
    if (arg.role == ArgRole::Input)
      inputs.push_back(byName.at(arg.name));
  return inputs;
}

void checkForward(const OpCase &op) {
  Graph graph;
  Builder builder(graph);
  Var out = op.build(builder);
  Program program = compileFunction(graph, out, /*gradient=*/false, op.fuse);
  Tensor got = program.run("f", inputsFor(program, "f", builder.inputs()))[0];
  Tensor expected = op.reference(builder.tensors());
  REQUIRE(got.numel() == expected.numel());
  got = got.contiguous();
  // Same float64 arithmetic in a possibly different order: only rounding
  // separates the two, a few ulps of the largest magnitude.
  double scale = 0, worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    scale = std::max(scale, std::abs(ptr(expected)[i]));
    worst = std::max(worst, std::abs(ptr(got)[i] - ptr(expected)[i]));
  }
  INFO("max |compiled - ref| = " << worst << ", max |ref| = " << scale);
  CHECK(worst <= 1e-12 * scale + 1e-12);
}

void checkGradient(const OpCase &op) {
  Graph graph;
  Builder builder(graph);
  Var out = op.build(builder);
  REQUIRE(out.dtype() == DType::F64);
  // sum(out * w) with a fixed random w weighs every output element
  // differently, so a gradient routed to the wrong element shows up. w is an
  // input, not a parameter: it gets no gradient.
  Var loss = out;
  if (out.dim() > 0) {
    builder.inputs()["w"] = normalTensor(out.shape(), builder.generator(),
                                         DType::F64);
    Shape axes(out.dim());
    std::iota(axes.begin(), axes.end(), 0);
    loss = sum(out * graph.input("w", out.shape(), DType::F64), axes);
  }
  Program program = compileFunction(graph, loss, /*gradient=*/true, op.fuse);
  const std::vector<Tensor> inputs =
      inputsFor(program, "f", builder.inputs());
  auto value = [&] { return program.run("f", inputs)[0].item(); };
  const double f0 = value();

  std::vector<Tensor> grads;
  for (const Tensor &t : program.run("f_grad", inputs))
    grads.push_back(t.contiguous().clone());
  const auto &params = program.namedParameters();
  REQUIRE(grads.size() == params.size() + 1);
  CHECK(grads[0].item() == Approx(f0).epsilon(1e-12));

  // Central differences err by eps^2 |f'''| / 6 ~ 1e-12 (truncation) plus
  // ulp(f) / eps ~ 1e-10 |f| (rounding); |f| stays below ~100 here, so 1e-6
  // relative + 1e-8 absolute leaves a 10x margin yet fails any gradient
  // that is off by a factor, a sign, a transpose or a misrouted element.
  constexpr double eps = 1e-6, rtol = 1e-6, atol = 1e-8;
  for (size_t p = 0; p < params.size(); ++p) {
    Tensor param = params[p].second;
    REQUIRE(param.isContiguous());
    const Tensor &grad = grads[p + 1];
    REQUIRE(grad.numel() == param.numel());
    int64_t mismatches = 0;
    std::ostringstream first;
    for (int64_t i = 0; i < param.numel(); ++i) {
      double &x = ptr(param)[i];
      const double saved = x;
      x = saved + eps;
      const double up = value();
      x = saved - eps;
      const double down = value();
      x = saved;
      const double numeric = (up - down) / (2 * eps);
      const double analytic = ptr(grad)[i];
      if (std::abs(analytic - numeric) <= rtol * std::abs(numeric) + atol)
        continue;
      if (mismatches++ == 0)
        first << "element " << i << ": compiled " << analytic
              << ", finite difference " << numeric;
    }
    INFO("d loss / d " << params[p].first << " " << shapeToString(param.shape())
                       << ": " << mismatches << " of " << param.numel()
                       << " elements wrong; first " << first.str());
    CHECK(mismatches == 0);
  }
}

void checkOp(const OpCase &op) {
  SECTION("gradient matches finite differences") { checkGradient(op); }
  if (op.reference)
    SECTION("forward matches kiln::ref") { checkForward(op); }
}

/// Runs one line of the table: a Catch2 test per op, so ctest lists each.
class OpInvoker : public Catch::ITestInvoker {
public:
  explicit OpInvoker(size_t index) : index_(index) {}
  void invoke() const override { checkOp(opCases()[index_]); }

private:
  size_t index_;
};

const bool registered = [] {
  static std::vector<std::unique_ptr<Catch::AutoReg>> registrations;
  for (size_t i = 0; i < opCases().size(); ++i)
    registrations.push_back(std::make_unique<Catch::AutoReg>(
        new OpInvoker(i), CATCH_INTERNAL_LINEINFO, Catch::StringRef(),
        Catch::NameAndTags{opCases()[i].name, "[gradcheck]"}));
  return true;
}();

} // namespace
