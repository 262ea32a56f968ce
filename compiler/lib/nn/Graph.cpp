// Trace-time construction and shape checking of graph nodes.
#include "kiln/nn/Graph.h"

#include "kiln/runtime/Error.h"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace kiln {

const char *opKindName(OpKind kind) {
  static const char *names[] = {
      "input", "param", "constant", "conv2d", "max_pool2d", "relu", "matmul",
      "reshape", "transpose", "broadcast", "add", "sub", "mul", "div", "pow",
      "neg", "exp", "log", "sum", "mean", "max", "softmax_cross_entropy",
      "mse_loss", "stop_gradient"};
  return names[static_cast<int>(kind)];
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i)
    out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

static int64_t product(const std::vector<int64_t> &shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<>());
}

const std::vector<int64_t> &Var::shape() const {
  return graph_->node(id_).shape;
}
DType Var::dtype() const { return graph_->node(id_).dtype; }
int64_t Var::size(int64_t axis) const {
  int64_t rank = dim();
  if (axis < -rank || axis >= rank)
    throw Error("axis " + std::to_string(axis) + " is out of range for shape " +
                shapeString(shape()));
  return shape()[axis < 0 ? axis + rank : axis];
}

Var Graph::add(Node node) {
  nodes_.push_back(std::move(node));
  return Var(this, static_cast<int>(nodes_.size()) - 1);
}

Var Graph::input(const std::string &name, std::vector<int64_t> shape,
                 DType dtype) {
  Node node{OpKind::Input};
  node.name = name;
  node.shape = std::move(shape);
  node.dtype = dtype;
  return add(std::move(node));
}

Var Graph::param(const std::string &name, const Tensor &value) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].kind == OpKind::Param && nodes_[i].name == name)
      return Var(this, static_cast<int>(i));
  }
  Node node{OpKind::Param};
  node.name = name;
  node.shape = value.shape();
  node.dtype = value.dtype();
  params_.emplace_back(name, value);
  return add(std::move(node));
}

Var Graph::constant(std::vector<int64_t> shape, double value, DType dtype) {
  Node node{OpKind::Constant};
  node.shape = std::move(shape);
  node.value = value;
  node.dtype = dtype;
  return add(std::move(node));
}

namespace {
Node makeNode(OpKind kind, std::vector<Var> inputs, std::vector<int64_t> shape) {
  Node node{kind};
  for (const Var &v : inputs)
    node.inputs.push_back(v.id());
  node.shape = std::move(shape);
  node.dtype = inputs.front().dtype();
  return node;
}

void requireFloat(const char *op, Var x) {
  if (x.dtype() == DType::I64)
    throw Error(std::string(op) + " needs a float tensor, got an int64 one of "
                "shape " + shapeString(x.shape()));
}

std::vector<int64_t> broadcastShapes(const char *op, const std::vector<int64_t> &a,
                                     const std::vector<int64_t> &b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      throw Error(std::string(op) + ": shapes " + shapeString(a) + " and " +
                  shapeString(b) + " cannot be broadcast together");
    out[i] = std::max(x, y);
  }
  return out;
}

Var binary(OpKind kind, Var a, Var b) {
  requireFloat(opKindName(kind), a);
  requireFloat(opKindName(kind), b);
  if (a.dtype() != b.dtype())
    throw Error(std::string(opKindName(kind)) + ": operands have different "
                "dtypes (" + dtypeName(a.dtype()) + " and " +
                dtypeName(b.dtype()) + "); convert one first");
  std::vector<int64_t> shape = broadcastShapes(opKindName(kind), a.shape(),
                                               b.shape());
  return a.graph().add(makeNode(kind, {broadcastTo(a, shape),
                                       broadcastTo(b, shape)}, shape));
}

Var unary(OpKind kind, Var x) {
  requireFloat(opKindName(kind), x);
  return x.graph().add(makeNode(kind, {x}, x.shape()));
}

Var scalar(Var like, double value) {
  return like.graph().constant(like.shape(), value, like.dtype());
}

std::vector<int64_t> normaliseAxes(const char *op, Var x,
                                   std::vector<int64_t> axes) {
  for (int64_t &axis : axes) {
    if (axis < -x.dim() || axis >= x.dim())
      throw Error(std::string(op) + ": axis " + std::to_string(axis) +
                  " is out of range for shape " + shapeString(x.shape()));
    if (axis < 0)
      axis += x.dim();
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw Error(std::string(op) + ": an axis is listed twice");
  return axes;
}

Var reduction(OpKind kind, Var x, std::vector<int64_t> axes, bool keepdim) {
  requireFloat(opKindName(kind), x);
  axes = normaliseAxes(opKindName(kind), x, std::move(axes));
  std::vector<int64_t> shape;
  for (int64_t i = 0; i < x.dim(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      shape.push_back(x.shape()[i]);
    else if (keepdim)
      shape.push_back(1);
  }
  Node node = makeNode(kind, {x}, shape);
  node.ints = axes;
  node.flagA = keepdim;
  return x.graph().add(std::move(node));
}
} // namespace

Var Var::view(std::vector<int64_t> newShape) const {
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < newShape.size(); ++i) {
    if (newShape[i] == -1) {
      if (inferred >= 0)
        throw Error("view " + shapeString(newShape) +
                    ": only one dimension can be -1");
      inferred = static_cast<int64_t>(i);
    } else if (newShape[i] <= 0) {
      throw Error("view " + shapeString(newShape) +
                  ": sizes must be positive or -1");
    } else {
      known *= newShape[i];
    }
  }
  int64_t total = product(shape());
  if (inferred >= 0) {
    if (total % known != 0)
      throw Error("cannot view a tensor of shape " + shapeString(shape()) +
                  " (" + std::to_string(total) + " elements) as " +
                  shapeString(newShape));
    newShape[inferred] = total / known;
  }
  if (product(newShape) != total)
    throw Error("cannot view a tensor of shape " + shapeString(shape()) + " (" +
                std::to_string(total) + " elements) as " +
                shapeString(newShape));
  if (newShape == shape())
    return *this;
  return graph_->add(makeNode(OpKind::Reshape, {*this}, newShape));
}

Var conv2d(Var input, Var weight, Var bias, int64_t stride, int64_t padding) {
  const auto &x = input.shape(), &w = weight.shape();
  if (x.size() != 4 || w.size() != 4)
    throw Error("conv2d needs an NCHW input and [F, C, KH, KW] weights, got " +
                shapeString(x) + " and " + shapeString(w));
  requireFloat("conv2d", input);
  if (input.dtype() != weight.dtype() ||
      (bias.id() >= 0 && bias.dtype() != weight.dtype()))
    throw Error(std::string("conv2d: input, weight and bias must have one "
                            "dtype; got ") +
                dtypeName(input.dtype()) + " and " + dtypeName(weight.dtype()));
  if (x[1] != w[1])
    throw Error("conv2d: input " + shapeString(x) + " has " +
                std::to_string(x[1]) + " channels but the weights " +
                shapeString(w) + " expect " + std::to_string(w[1]));
  if (stride < 1 || padding < 0)
    throw Error("conv2d needs stride >= 1 and padding >= 0");
  int64_t oh = (x[2] + 2 * padding - w[2]) / stride + 1;
  int64_t ow = (x[3] + 2 * padding - w[3]) / stride + 1;
  if (x[2] + 2 * padding < w[2] || x[3] + 2 * padding < w[3])
    throw Error("conv2d: kernel " + shapeString(w) +
                " is larger than the padded input " + shapeString(x));
  std::vector<Var> inputs = {input, weight};
  if (bias.id() >= 0) {
    if (bias.shape() != std::vector<int64_t>{w[0]})
      throw Error("conv2d: bias " + shapeString(bias.shape()) +
                  " should hold one value per output channel (" +
                  std::to_string(w[0]) + ")");
    inputs.push_back(bias);
  }
  Node node = makeNode(OpKind::Conv2d, inputs, {x[0], w[0], oh, ow});
  node.stride = stride;
  node.padding = padding;
  return input.graph().add(std::move(node));
}

Var conv2d(Var input, Var weight, int64_t stride, int64_t padding) {
  return conv2d(input, weight, Var(), stride, padding);
}

Var maxPool2d(Var input, int64_t kernel, int64_t stride) {
  if (stride == 0)
    stride = kernel;
  const auto &x = input.shape();
  if (x.size() != 4 || kernel < 1 || stride < 1 || x[2] < kernel ||
      x[3] < kernel)
    throw Error("max_pool2d with kernel " + std::to_string(kernel) +
                " and stride " + std::to_string(stride) +
                " does not fit an input of shape " + shapeString(x));
  Node node = makeNode(OpKind::MaxPool2d, {input},
                       {x[0], x[1], (x[2] - kernel) / stride + 1,
                        (x[3] - kernel) / stride + 1});
  node.kernel = kernel;
  node.stride = stride;
  return input.graph().add(std::move(node));
}

Var relu(Var x) { return unary(OpKind::Relu, x); }
Var stopGradient(Var x) { return unary(OpKind::StopGradient, x); }
Var exp(Var x) { return unary(OpKind::Exp, x); }
Var log(Var x) { return unary(OpKind::Log, x); }

Var matmul(Var a, Var b, bool transposeA, bool transposeB) {
  requireFloat("matmul", a);
  if (a.dtype() != b.dtype())
    throw Error(std::string("matmul: operands have different dtypes (") +
                dtypeName(a.dtype()) + " and " + dtypeName(b.dtype()) +
                "); convert one first");
  const auto &x = a.shape(), &y = b.shape();
  if (x.size() != 2 || y.size() != 2)
    throw Error("matmul needs 2-D operands, got " + shapeString(x) + " and " +
                shapeString(y));
  int64_t m = transposeA ? x[1] : x[0], k = transposeA ? x[0] : x[1];
  int64_t k2 = transposeB ? y[1] : y[0], n = transposeB ? y[0] : y[1];
  if (k != k2)
    throw Error("matmul: inner dimensions differ for " + shapeString(x) +
                (transposeA ? "ᵀ" : "") + " and " + shapeString(y) +
                (transposeB ? "ᵀ" : ""));
  Node node = makeNode(OpKind::Matmul, {a, b}, {m, n});
  node.flagA = transposeA;
  node.flagB = transposeB;
  return a.graph().add(std::move(node));
}

Var linear(Var x, Var weight, Var bias) {
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1))
    throw Error("linear: input " + shapeString(x.shape()) +
                " does not fit weights " + shapeString(weight.shape()) +
                " (expected [N, " + std::to_string(weight.size(1)) + "])");
  Var y = matmul(x, weight, false, true);
  return bias.id() >= 0 ? y + bias : y;
}

Var transpose(Var x, std::vector<int64_t> permutation) {
  std::vector<int64_t> sorted = permutation;
  std::sort(sorted.begin(), sorted.end());
  if (static_cast<int64_t>(sorted.size()) != x.dim())
    throw Error("transpose: " + shapeString(permutation) +
                " is not a permutation of the axes of " +
                shapeString(x.shape()));
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (sorted[i] != i)
      throw Error("transpose: " + shapeString(permutation) +
                  " is not a permutation of the axes of " +
                  shapeString(x.shape()));
  }
  std::vector<int64_t> shape;
  for (int64_t axis : permutation)
    shape.push_back(x.shape()[axis]);
  Node node = makeNode(OpKind::Transpose, {x}, shape);
  node.ints = permutation;
  return x.graph().add(std::move(node));
}

Var broadcastTo(Var x, std::vector<int64_t> shape) {
  if (x.shape() == shape)
    return x;
  if (broadcastShapes("broadcast", x.shape(), shape) != shape)
    throw Error("cannot broadcast " + shapeString(x.shape()) + " to " +
                shapeString(shape));
  return x.graph().add(makeNode(OpKind::Broadcast, {x}, shape));
}

Var flatten(Var x, int64_t startDim) {
  if (startDim < -x.dim() || startDim >= std::max<int64_t>(x.dim(), 1))
    throw Error("flatten: start dimension " + std::to_string(startDim) +
                " is out of range for shape " + shapeString(x.shape()));
  if (startDim < 0)
    startDim += x.dim();
  std::vector<int64_t> shape(x.shape().begin(), x.shape().begin() + startDim);
  shape.push_back(-1);
  return x.view(shape);
}

Var sum(Var x, std::vector<int64_t> axes, bool keepdim) {
  return reduction(OpKind::Sum, x, std::move(axes), keepdim);
}
Var mean(Var x, std::vector<int64_t> axes, bool keepdim) {
  return reduction(OpKind::Mean, x, std::move(axes), keepdim);
}
Var max(Var x, std::vector<int64_t> axes, bool keepdim) {
  return reduction(OpKind::Max, x, std::move(axes), keepdim);
}

Var pow(Var x, Var exponent) { return binary(OpKind::Pow, x, exponent); }
Var pow(Var x, double exponent) { return pow(x, scalar(x, exponent)); }

Var crossEntropy(Var logits, Var labels, Reduction reduction) {
  if (logits.dim() != 2 || labels.dim() != 1 ||
      labels.size(0) != logits.size(0) || labels.dtype() != DType::I64)
    throw Error("cross-entropy needs logits [N, C] and int64 labels [N], got " +
                shapeString(logits.shape()) + " and " +
                shapeString(labels.shape()) + " " + dtypeName(labels.dtype()));
  requireFloat("cross-entropy", logits);
  std::vector<int64_t> shape;
  if (reduction == Reduction::None)
    shape = {logits.size(0)};
  Node node = makeNode(OpKind::SoftmaxCrossEntropy, {logits, labels}, shape);
  node.reduction = reduction;
  return logits.graph().add(std::move(node));
}

Var mseLoss(Var input, Var target, Reduction reduction) {
  if (input.shape() != target.shape())
    throw Error("mse_loss: input " + shapeString(input.shape()) +
                " and target " + shapeString(target.shape()) +
                " must have one shape");
  requireFloat("mse_loss", input);
  std::vector<int64_t> shape;
  if (reduction == Reduction::None)
    shape = input.shape();
  Node node = makeNode(OpKind::MseLoss, {input, target}, shape);
  node.reduction = reduction;
  return input.graph().add(std::move(node));
}

Var operator+(Var a, Var b) { return binary(OpKind::Add, a, b); }
Var operator-(Var a, Var b) { return binary(OpKind::Sub, a, b); }
Var operator*(Var a, Var b) { return binary(OpKind::Mul, a, b); }
Var operator/(Var a, Var b) { return binary(OpKind::Div, a, b); }
Var operator-(Var a) { return unary(OpKind::Neg, a); }
Var operator+(Var a, double b) { return a + scalar(a, b); }
Var operator-(Var a, double b) { return a - scalar(a, b); }
Var operator*(Var a, double b) { return a * scalar(a, b); }
Var operator*(double a, Var b) { return scalar(b, a) * b; }
Var operator/(Var a, double b) { return a / scalar(a, b); }

} // namespace kiln
