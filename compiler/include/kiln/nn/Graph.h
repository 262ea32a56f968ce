// The traced program: a list of nodes that forward() records over symbolic
// values (Var). Building a node records what it is; compiling it is the
// compiler's job. No MLIR type appears here.
#ifndef KILN_NN_GRAPH_H
#define KILN_NN_GRAPH_H

#include "kiln/runtime/Tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

enum class OpKind {
  Input, Param, Constant,
  Conv2d, MaxPool2d, Relu, Matmul,
  Reshape, Transpose, Broadcast,
  Add, Sub, Mul, Div, Pow, Neg, Exp, Log,
  Sum, Mean, Max,
  SoftmaxCrossEntropy, MseLoss,
  StopGradient,
};

const char *opKindName(OpKind kind);

/// How a loss combines its terms (PyTorch's `reduction`): their mean (the
/// default) or sum, a scalar, or no reduction, one loss per sample
/// (crossEntropy) or per element (mseLoss).
enum class Reduction { Mean, Sum, None };

/// One traced operation and the shape of its result.
struct Node {
  OpKind kind;
  std::vector<int> inputs;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  std::string name;               ///< Input and Param nodes
  std::vector<int64_t> ints;      ///< axes, permutation
  int64_t stride = 1, padding = 0, kernel = 0;
  bool flagA = false, flagB = false; ///< transpose flags, keepdim
  double value = 0;               ///< Constant (splat)
  Reduction reduction = Reduction::Mean; ///< crossEntropy, mseLoss
};

class Graph;

/// A symbolic tensor inside a trace: a handle to the node producing it.
class Var {
public:
  Var() = default;
  Var(Graph *graph, int id) : graph_(graph), id_(id) {}

  Graph &graph() const { return *graph_; }
  int id() const { return id_; }
  const std::vector<int64_t> &shape() const;
  int64_t size(int64_t axis) const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  DType dtype() const;

  /// Same elements, new shape; one entry may be -1 and is inferred.
  Var view(std::vector<int64_t> shape) const;
  Var reshape(std::vector<int64_t> shape) const { return view(shape); }

private:
  Graph *graph_ = nullptr;
  int id_ = -1;
};

/// Where forward() records its nodes.
class Graph {
public:
  Var input(const std::string &name, std::vector<int64_t> shape,
            DType dtype = DType::F32);
  /// A parameter node, created once per name.
  Var param(const std::string &name, const Tensor &value);
  Var constant(std::vector<int64_t> shape, double value, DType dtype);
  Var add(Node node);

  const std::vector<Node> &nodes() const { return nodes_; }
  const Node &node(int id) const { return nodes_.at(id); }
  /// Parameter tensors in the order their nodes were created.
  const std::vector<std::pair<std::string, Tensor>> &params() const {
    return params_;
  }

  /// One line per module call: its path, type and output shape.
  struct Layer {
    std::string path, type;
    std::vector<int64_t> outputShape;
  };
  void recordLayer(Layer layer) { layers_.push_back(std::move(layer)); }
  const std::vector<Layer> &layers() const { return layers_; }

private:
  std::vector<Node> nodes_;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<Layer> layers_;
};

// Ops on symbolic values. Shapes are checked here, at trace time, and a
// mismatch throws kiln::Error naming both shapes.
Var conv2d(Var input, Var weight, Var bias, int64_t stride = 1,
           int64_t padding = 0);
Var conv2d(Var input, Var weight, int64_t stride = 1, int64_t padding = 0);
Var maxPool2d(Var input, int64_t kernel, int64_t stride = 0);
Var relu(Var x);
Var matmul(Var a, Var b, bool transposeA = false, bool transposeB = false);
/// y = x weightᵀ + bias with PyTorch's [out, in] weights.
Var linear(Var x, Var weight, Var bias);
Var transpose(Var x, std::vector<int64_t> permutation);
Var broadcastTo(Var x, std::vector<int64_t> shape);
/// Flattens dimensions from `startDim` on into one.
Var flatten(Var x, int64_t startDim = 1);
Var sum(Var x, std::vector<int64_t> axes, bool keepdim = false);
Var mean(Var x, std::vector<int64_t> axes, bool keepdim = false);
Var max(Var x, std::vector<int64_t> axes, bool keepdim = false);
Var exp(Var x);
/// The same values with no gradient flowing back (PyTorch's detach()).
Var stopGradient(Var x);
inline Var detach(Var x) { return stopGradient(x); }
Var log(Var x);
Var pow(Var x, Var exponent);
Var pow(Var x, double exponent);
/// Cross-entropy of softmax(logits [N, C]) against int64 labels [N]: the
/// mean or sum over the batch (a scalar), or with Reduction::None the [N]
/// per-sample losses.
Var crossEntropy(Var logits, Var labels, Reduction reduction = Reduction::Mean);
/// Squared error (input - target)^2: its mean or sum (a scalar), or with
/// Reduction::None the elementwise errors, in the input's shape.
Var mseLoss(Var input, Var target, Reduction reduction = Reduction::Mean);

// Arithmetic broadcasts by NumPy's rules.
Var operator+(Var a, Var b);
Var operator-(Var a, Var b);
Var operator*(Var a, Var b);
Var operator/(Var a, Var b);
Var operator-(Var a);
Var operator+(Var a, double b);
Var operator*(Var a, double b);
Var operator*(double a, Var b);
Var operator-(Var a, double b);
Var operator/(Var a, double b);

/// "[4, 1, 32, 32]"
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace kiln

#endif // KILN_NN_GRAPH_H
