// Verifiers of the kiln ops: each failure names the offending shapes.
#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;
using namespace kiln;

namespace {
RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

// Checks every value is a tensor of the first one's element type.
LogicalResult verifySameElementType(Operation *op, ArrayRef<Value> values) {
  Type element = cast<ShapedType>(values.front().getType()).getElementType();
  for (Value value : values.drop_front()) {
    if (cast<ShapedType>(value.getType()).getElementType() != element)
      return op->emitOpError() << "mixes element types: " << values.front().getType()
                               << " and " << value.getType();
  }
  return success();
}

// Checks `axes` is a duplicate-free list of valid axes of a rank-`rank` tensor.
LogicalResult verifyAxes(Operation *op, ArrayRef<int64_t> axes, int64_t rank) {
  llvm::SmallSet<int64_t, 4> seen;
  for (int64_t axis : axes) {
    if (axis < 0 || axis >= rank)
      return op->emitOpError() << "axis " << axis << " is out of range for a rank-"
                               << rank << " input";
    if (!seen.insert(axis).second)
      return op->emitOpError() << "axis " << axis << " is listed twice";
  }
  return success();
}
} // namespace

namespace kiln {
SmallVector<int64_t> reducedShape(ArrayRef<int64_t> shape,
                                  ArrayRef<int64_t> axes, bool keepdim) {
  SmallVector<int64_t> result;
  for (auto [axis, size] : llvm::enumerate(shape)) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(axis)))
      result.push_back(size);
    else if (keepdim)
      result.push_back(1);
  }
  return result;
}

int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}
} // namespace kiln

LogicalResult ReshapeOp::verify() {
  auto in = tensorType(getInput()), out = getType();
  if (in.getNumElements() != out.getNumElements())
    return emitOpError() << "cannot reshape " << in << " (" << in.getNumElements()
                         << " elements) to " << out << " ("
                         << out.getNumElements() << " elements)";
  if (in.getElementType() != out.getElementType())
    return emitOpError() << "element type changes from " << in << " to " << out;
  return success();
}

LogicalResult TransposeOp::verify() {
  if (failed(verifySameElementType(*this, {getInput(), getResult()})))
    return failure();
  auto in = tensorType(getInput()), out = getType();
  ArrayRef<int64_t> perm = getPermutation();
  if (static_cast<int64_t>(perm.size()) != in.getRank())
    return emitOpError() << "permutation has " << perm.size()
                         << " entries but the input " << in << " has rank "
                         << in.getRank();
  if (failed(verifyAxes(*this, perm, in.getRank())))
    return failure();
  for (auto [i, axis] : llvm::enumerate(perm)) {
    if (out.getDimSize(i) != in.getDimSize(axis))
      return emitOpError() << "result " << out << " is not input " << in
                           << " permuted by [" << perm << "]";
  }
  return success();
}

LogicalResult BroadcastOp::verify() {
  if (failed(verifySameElementType(*this, {getInput(), getResult()})))
    return failure();
  auto in = tensorType(getInput()), out = getType();
  if (in.getRank() > out.getRank())
    return emitOpError() << "cannot broadcast " << in << " to the lower-rank "
                         << out;
  int64_t lead = out.getRank() - in.getRank();
  for (int64_t i = 0; i < in.getRank(); ++i) {
    int64_t from = in.getDimSize(i), to = out.getDimSize(lead + i);
    if (from != to && from != 1)
      return emitOpError() << "cannot broadcast " << in << " to " << out
                           << ": dimension " << i << " is " << from
                           << ", not 1 or " << to;
  }
  return success();
}

static LogicalResult verifyReduction(Operation *op, Value input,
                                     ArrayRef<int64_t> axes, bool keepdim,
                                     RankedTensorType reduced) {
  auto in = tensorType(input);
  if (in.getElementType() != reduced.getElementType())
    return op->emitOpError() << "mixes element types: " << in << " and "
                             << reduced;
  if (failed(verifyAxes(op, axes, in.getRank())))
    return failure();
  SmallVector<int64_t> expected = reducedShape(in.getShape(), axes, keepdim);
  if (reduced.getShape() != ArrayRef<int64_t>(expected))
    return op->emitOpError()
           << "reducing " << in << " over axes [" << axes << "]"
           << (keepdim ? " with keepdim" : "") << " gives shape ["
           << ArrayRef<int64_t>(expected) << "], not " << reduced;
  return success();
}

LogicalResult SumOp::verify() {
  return verifyReduction(*this, getInput(), getAxes(), getKeepdim(), getType());
}
LogicalResult MeanOp::verify() {
  return verifyReduction(*this, getInput(), getAxes(), getKeepdim(), getType());
}
LogicalResult MaxOp::verify() {
  return verifyReduction(*this, getInput(), getAxes(), getKeepdim(), getType());
}
LogicalResult MaxBackwardOp::verify() {
  if (getType() != tensorType(getInput()))
    return emitOpError() << "result " << getType() << " must match the input "
                         << getInput().getType();
  return verifyReduction(*this, getInput(), getAxes(), getKeepdim(),
                         tensorType(getGrad()));
}

LogicalResult MatmulOp::verify() {
  auto lhs = tensorType(getLhs()), rhs = tensorType(getRhs()), out = getType();
  if (lhs.getRank() != 2 || rhs.getRank() != 2 || out.getRank() != 2)
    return emitOpError() << "expects 2-D operands and result, got " << lhs
                         << ", " << rhs << " -> " << out;
  if (lhs.getElementType() != rhs.getElementType() ||
      lhs.getElementType() != out.getElementType())
    return emitOpError() << "operands " << lhs << ", " << rhs << " and result "
                         << out << " must have one element type";
  int64_t m = lhs.getDimSize(getTransposeLhs() ? 1 : 0);
  int64_t k = lhs.getDimSize(getTransposeLhs() ? 0 : 1);
  int64_t k2 = rhs.getDimSize(getTransposeRhs() ? 1 : 0);
  int64_t n = rhs.getDimSize(getTransposeRhs() ? 0 : 1);
  if (k != k2)
    return emitOpError() << "inner dimensions differ: " << lhs
                         << (getTransposeLhs() ? " (transposed)" : "")
                         << " has " << k << ", " << rhs
                         << (getTransposeRhs() ? " (transposed)" : "")
                         << " has " << k2;
  if (out.getDimSize(0) != m || out.getDimSize(1) != n)
    return emitOpError() << "result " << out << " should be " << m << "x" << n;
  return success();
}

// Checks the NCHW input, FCKK weight and result shapes of a convolution.
static LogicalResult verifyConvShapes(Operation *op, RankedTensorType input,
                                      RankedTensorType weight,
                                      RankedTensorType output, int64_t stride,
                                      int64_t padding) {
  if (input.getRank() != 4 || weight.getRank() != 4 || output.getRank() != 4)
    return op->emitOpError() << "expects 4-D input, weight and output, got "
                             << input << ", " << weight << ", " << output;
  if (stride < 1 || padding < 0)
    return op->emitOpError() << "needs stride >= 1 and padding >= 0, got stride "
                             << stride << " and padding " << padding;
  if (input.getElementType() != weight.getElementType() ||
      input.getElementType() != output.getElementType())
    return op->emitOpError() << "input " << input << ", weight " << weight
                             << " and output " << output
                             << " must have one element type";
  if (input.getDimSize(1) != weight.getDimSize(1))
    return op->emitOpError() << "input " << input << " has "
                             << input.getDimSize(1) << " channels but weight "
                             << weight << " expects " << weight.getDimSize(1);
  if (input.getDimSize(2) + 2 * padding < weight.getDimSize(2) ||
      input.getDimSize(3) + 2 * padding < weight.getDimSize(3))
    return op->emitOpError() << "kernel of weight " << weight
                             << " does not fit the padded input " << input;
  int64_t oh = convOutputSize(input.getDimSize(2), weight.getDimSize(2), stride,
                              padding);
  int64_t ow = convOutputSize(input.getDimSize(3), weight.getDimSize(3), stride,
                              padding);
  if (oh < 1 || ow < 1)
    return op->emitOpError() << "kernel of weight " << weight
                             << " does not fit the padded input " << input;
  if (output.getDimSize(0) != input.getDimSize(0) ||
      output.getDimSize(1) != weight.getDimSize(0) ||
      output.getDimSize(2) != oh || output.getDimSize(3) != ow)
    return op->emitOpError() << "output " << output << " should be "
                             << input.getDimSize(0) << "x"
                             << weight.getDimSize(0) << "x" << oh << "x" << ow
                             << " for input " << input << " and weight "
                             << weight;
  return success();
}

LogicalResult Conv2dOp::verify() {
  auto weight = tensorType(getWeight());
  if (getBias() &&
      failed(verifySameElementType(*this, {getWeight(), getBias()})))
    return failure();
  if (getBias()) {
    auto bias = tensorType(getBias());
    if (bias.getRank() != 1 || bias.getDimSize(0) != weight.getDimSize(0))
      return emitOpError() << "bias " << bias << " should hold one value per "
                           << "output channel of weight " << weight;
  }
  return verifyConvShapes(*this, tensorType(getInput()), weight, getType(),
                          getStride(), getPadding());
}

LogicalResult Conv2dBackwardInputOp::verify() {
  return verifyConvShapes(*this, getType(), tensorType(getWeight()),
                          tensorType(getGrad()), getStride(), getPadding());
}

LogicalResult Conv2dBackwardFilterOp::verify() {
  return verifyConvShapes(*this, tensorType(getInput()), getType(),
                          tensorType(getGrad()), getStride(), getPadding());
}

static LogicalResult verifyPoolShapes(Operation *op, RankedTensorType input,
                                      RankedTensorType output, int64_t kernel,
                                      int64_t stride) {
  if (input.getRank() != 4 || output.getRank() != 4)
    return op->emitOpError() << "expects 4-D input and output, got " << input
                             << " and " << output;
  if (kernel < 1 || stride < 1)
    return op->emitOpError() << "needs kernel >= 1 and stride >= 1, got kernel "
                             << kernel << " and stride " << stride;
  if (input.getDimSize(2) < kernel || input.getDimSize(3) < kernel)
    return op->emitOpError() << "pooling window " << kernel
                             << " is larger than the input " << input;
  int64_t oh = convOutputSize(input.getDimSize(2), kernel, stride, 0);
  int64_t ow = convOutputSize(input.getDimSize(3), kernel, stride, 0);
  if (oh < 1 || ow < 1 || output.getDimSize(0) != input.getDimSize(0) ||
      output.getDimSize(1) != input.getDimSize(1) ||
      output.getDimSize(2) != oh || output.getDimSize(3) != ow)
    return op->emitOpError() << "pooling " << input << " with kernel " << kernel
                             << " and stride " << stride << " gives "
                             << input.getDimSize(0) << "x"
                             << input.getDimSize(1) << "x" << oh << "x" << ow
                             << ", not " << output;
  return success();
}

LogicalResult MaxPool2dOp::verify() {
  return verifyPoolShapes(*this, tensorType(getInput()), getType(), getKernel(),
                          getStride());
}

LogicalResult MaxPool2dBackwardOp::verify() {
  if (failed(verifySameElementType(*this, {getGrad(), getInput()})))
    return failure();
  if (getType() != tensorType(getInput()))
    return emitOpError() << "result " << getType() << " must match the input "
                         << getInput().getType();
  return verifyPoolShapes(*this, tensorType(getInput()), tensorType(getGrad()),
                          getKernel(), getStride());
}

static LogicalResult verifyLogitsAndLabels(Operation *op, Value logits,
                                           Value labels) {
  auto logitsType = tensorType(logits), labelsType = tensorType(labels);
  if (logitsType.getRank() != 2 || labelsType.getRank() != 1 ||
      labelsType.getDimSize(0) != logitsType.getDimSize(0))
    return op->emitOpError() << "expects logits [N, C] and labels [N], got "
                             << logitsType << " and " << labelsType;
  return success();
}

// The loss type a reduction gives: a scalar for mean and sum, otherwise
// `unreduced`'s shape, always in the element type of `unreduced`.
static RankedTensorType reducedLossType(LossReduction reduction,
                                        ArrayRef<int64_t> unreduced,
                                        Type element) {
  if (reduction == LossReduction::None)
    return RankedTensorType::get(unreduced, element);
  return RankedTensorType::get({}, element);
}

// Checks `value` (the loss, or its gradient) has the type the reduction gives.
static LogicalResult verifyLossType(Operation *op, StringRef what, Value value,
                                    LossReduction reduction,
                                    ArrayRef<int64_t> unreduced, Value like) {
  RankedTensorType want =
      reducedLossType(reduction, unreduced, tensorType(like).getElementType());
  if (value.getType() == want)
    return success();
  return op->emitOpError() << what << " " << value.getType() << " must be "
                           << want << " for reduction "
                           << stringifyLossReduction(reduction) << " over "
                           << like.getType();
}

LogicalResult SoftmaxCrossEntropyOp::verify() {
  if (failed(verifyLogitsAndLabels(*this, getLogits(), getLabels())))
    return failure();
  return verifyLossType(*this, "loss", getResult(), getReduction(),
                        tensorType(getLabels()).getShape(), getLogits());
}

LogicalResult SoftmaxCrossEntropyBackwardOp::verify() {
  if (getType() != tensorType(getLogits()))
    return emitOpError() << "result " << getType()
                         << " must match the logits " << getLogits().getType();
  if (failed(verifyLogitsAndLabels(*this, getLogits(), getLabels())))
    return failure();
  return verifyLossType(*this, "loss gradient", getGrad(), getReduction(),
                        tensorType(getLabels()).getShape(), getLogits());
}

LogicalResult MseLossOp::verify() {
  if (getInput().getType() != getTarget().getType())
    return emitOpError() << "input " << getInput().getType()
                         << " and target " << getTarget().getType()
                         << " must have one type";
  return verifyLossType(*this, "loss", getResult(), getReduction(),
                        tensorType(getInput()).getShape(), getInput());
}

LogicalResult SgdUpdateOp::verify() {
  if (getLr().convertToDouble() < 0 || getMomentum().convertToDouble() < 0 ||
      getWeightDecay().convertToDouble() < 0)
    return emitOpError() << "lr, momentum and weight_decay must be >= 0";
  if (getNesterov() && (getMomentum().convertToDouble() <= 0 ||
                        getDampening().convertToDouble() != 0))
    return emitOpError() << "nesterov needs momentum > 0 and dampening 0";
  return success();
}

// The ranges PyTorch's constructors check.
LogicalResult AdamUpdateOp::verify() {
  if (getLr().convertToDouble() < 0 || getEps().convertToDouble() < 0 ||
      getWeightDecay().convertToDouble() < 0)
    return emitOpError() << "lr, eps and weight_decay must be >= 0";
  for (double beta :
       {getBeta1().convertToDouble(), getBeta2().convertToDouble()}) {
    if (beta < 0 || beta >= 1)
      return emitOpError() << "beta1 and beta2 must lie in [0, 1), got "
                           << beta;
  }
  return success();
}

LogicalResult RmsPropUpdateOp::verify() {
  if (getLr().convertToDouble() < 0 || getEps().convertToDouble() < 0 ||
      getWeightDecay().convertToDouble() < 0 ||
      getMomentum().convertToDouble() < 0 || getAlpha().convertToDouble() < 0)
    return emitOpError()
           << "lr, alpha, eps, weight_decay and momentum must be >= 0";
  return success();
}

// The shape conv2d gives `input` and `weight`: the fused ops' activation.
static FailureOr<RankedTensorType>
convResultType(Operation *op, RankedTensorType input, RankedTensorType weight,
               int64_t stride, int64_t padding) {
  if (input.getRank() != 4 || weight.getRank() != 4)
    return op->emitOpError() << "expects 4-D input and weight, got " << input
                             << " and " << weight;
  if (stride < 1 || padding < 0)
    return op->emitOpError()
           << "needs stride >= 1 and padding >= 0, got stride " << stride
           << " and padding " << padding;
  int64_t oh = convOutputSize(input.getDimSize(2), weight.getDimSize(2), stride,
                              padding);
  int64_t ow = convOutputSize(input.getDimSize(3), weight.getDimSize(3), stride,
                              padding);
  if (oh < 1 || ow < 1)
    return op->emitOpError() << "kernel of weight " << weight
                             << " does not fit the padded input " << input;
  return RankedTensorType::get(
      {input.getDimSize(0), weight.getDimSize(0), oh, ow},
      input.getElementType());
}

// Checks arg-max indices have the pooled shape and can name every position
// of a window.
static LogicalResult verifyPoolIndices(Operation *op, RankedTensorType indices,
                                       RankedTensorType pooled,
                                       int64_t kernel) {
  if (indices.getShape() != pooled.getShape())
    return op->emitOpError()
           << "indices " << indices << " must have the pooled shape " << pooled;
  if (indices.getElementType().isInteger(8) && kernel * kernel > 128)
    return op->emitOpError() << "i8 indices cannot name the " << kernel * kernel
                             << " positions of a " << kernel << "x" << kernel
                             << " window; use i32";
  return success();
}

LogicalResult Conv2dReluPoolOp::verify() {
  auto weight = tensorType(getWeight());
  if (getBias()) {
    auto bias = tensorType(getBias());
    if (bias.getRank() != 1 || bias.getDimSize(0) != weight.getDimSize(0))
      return emitOpError() << "bias " << bias << " should hold one value per "
                           << "output channel of weight " << weight;
  }
  auto activation = tensorType(getActivation());
  if (failed(verifyConvShapes(*this, tensorType(getInput()), weight, activation,
                              getStride(), getPadding())) ||
      failed(verifyPoolShapes(*this, activation, tensorType(getPooled()),
                              getPoolKernel(), getPoolStride())))
    return failure();
  return verifyPoolIndices(*this, tensorType(getIndices()),
                           tensorType(getPooled()), getPoolKernel());
}

LogicalResult Conv2dReluPoolBackwardOp::verify() {
  auto input = tensorType(getInput()), weight = tensorType(getWeight());
  auto grad = tensorType(getGrad());
  FailureOr<RankedTensorType> activation =
      convResultType(*this, input, weight, getStride(), getPadding());
  if (failed(activation) ||
      failed(verifyConvShapes(*this, input, weight, *activation, getStride(),
                              getPadding())) ||
      failed(verifyPoolShapes(*this, *activation, grad, getPoolKernel(),
                              getPoolStride())) ||
      failed(verifyPoolIndices(*this, tensorType(getIndices()), grad,
                               getPoolKernel())))
    return failure();
  if (grad.getElementType() != input.getElementType())
    return emitOpError() << "grad " << grad << " and input " << input
                         << " must have one element type";
  auto biasGrad =
      RankedTensorType::get({weight.getDimSize(0)}, weight.getElementType());
  if (getInputGrad().getType() != input ||
      getWeightGrad().getType() != weight ||
      getBiasGrad().getType() != biasGrad)
    return emitOpError() << "gradients " << getInputGrad().getType() << ", "
                         << getWeightGrad().getType() << " and "
                         << getBiasGrad().getType() << " should be " << input
                         << ", " << weight << " and " << biasGrad;
  return success();
}

LogicalResult LinearOp::verify() {
  auto input = tensorType(getInput()), weight = tensorType(getWeight());
  auto result = getType();
  if (input.getRank() != 2 || weight.getRank() != 2 || result.getRank() != 2)
    return emitOpError() << "expects 2-D input, weight and result, got "
                         << input << ", " << weight << " and " << result;
  SmallVector<Value> values = {getInput(), getWeight(), getResult()};
  if (getBias())
    values.push_back(getBias());
  if (failed(verifySameElementType(*this, values)))
    return failure();
  if (input.getDimSize(1) != weight.getDimSize(1) ||
      result.getDimSize(0) != input.getDimSize(0) ||
      result.getDimSize(1) != weight.getDimSize(0))
    return emitOpError() << "input " << input << " and weight " << weight
                         << " (one row per output) do not give " << result;
  if (getBias()) {
    auto bias = tensorType(getBias());
    if (bias.getRank() != 1 || bias.getDimSize(0) != weight.getDimSize(0))
      return emitOpError() << "bias " << bias << " should hold one value per "
                           << "row of weight " << weight;
  }
  return success();
}

LogicalResult BiasReluBackwardOp::verify() {
  auto grad = tensorType(getGrad());
  if (grad.getRank() != 2 || getInput().getType() != grad ||
      getResult().getType() != grad)
    return emitOpError() << "expects 2-D grad, input and result of one type, "
                         << "got " << grad << ", " << getInput().getType()
                         << " and " << getResult().getType();
  auto biasGrad =
      RankedTensorType::get({grad.getDimSize(1)}, grad.getElementType());
  if (getBiasGrad().getType() != biasGrad)
    return emitOpError() << "bias gradient " << getBiasGrad().getType()
                         << " should be " << biasGrad;
  return success();
}
