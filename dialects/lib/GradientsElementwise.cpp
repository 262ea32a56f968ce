// Gradient rules of the shape, elementwise and reduction ops.
#include "GradientUtils.h"

using namespace mlir;
using namespace kiln;

SmallVector<Value> ReshapeOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<ReshapeOp>(getLoc(), getInput().getType(), grads[0])};
}

SmallVector<Value> TransposeOp::buildVJP(OpBuilder &b, ValueRange grads) {
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, axis] : llvm::enumerate(perm))
    inverse[axis] = i;
  return {b.create<TransposeOp>(getLoc(), getInput().getType(), grads[0],
                                inverse)};
}

SmallVector<Value> BroadcastOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {sumToShape(b, getLoc(), grads[0], tensorTypeOf(getInput()))};
}

SmallVector<Value> AddOp::buildVJP(OpBuilder &, ValueRange grads) {
  return {grads[0], grads[0]};
}

SmallVector<Value> SubOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {grads[0], b.create<NegOp>(getLoc(), grads[0])};
}

SmallVector<Value> MulOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<MulOp>(getLoc(), grads[0], getRhs()),
          b.create<MulOp>(getLoc(), grads[0], getLhs())};
}

SmallVector<Value> DivOp::buildVJP(OpBuilder &b, ValueRange grads) {
  Location loc = getLoc();
  Value dLhs = b.create<DivOp>(loc, grads[0], getRhs());
  // d(a/b)/db = -(a/b)/b, reusing the forward result.
  Value dRhs = b.create<NegOp>(
      loc, b.create<MulOp>(loc, dLhs, getResult()));
  return {dLhs, dRhs};
}

SmallVector<Value> PowOp::buildVJP(OpBuilder &b, ValueRange grads) {
  Location loc = getLoc();
  auto type = getType();
  Value exponentLessOne =
      b.create<SubOp>(loc, getRhs(), splat(b, loc, type, 1.0));
  Value dLhs = b.create<MulOp>(
      loc, grads[0],
      b.create<MulOp>(loc, getRhs(),
                      b.create<PowOp>(loc, getLhs(), exponentLessOne)));
  Value dRhs = b.create<MulOp>(
      loc, grads[0],
      b.create<MulOp>(loc, getResult(), b.create<LogOp>(loc, getLhs())));
  return {dLhs, dRhs};
}

SmallVector<Value> NegOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<NegOp>(getLoc(), grads[0])};
}

SmallVector<Value> ExpOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<MulOp>(getLoc(), grads[0], getResult())};
}

SmallVector<Value> LogOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<DivOp>(getLoc(), grads[0], getInput())};
}

SmallVector<Value> StopGradientOp::buildVJP(OpBuilder &, ValueRange) {
  return {Value()}; // No gradient reaches the operand: that is the op.
}

SmallVector<Value> ReluOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<ReluBackwardOp>(getLoc(), getType(), grads[0], getInput())};
}

// Gives the reduced gradient back its reduced axes (as size 1) and repeats it
// over the input's shape.
static Value expandReduced(OpBuilder &b, Location loc, Value grad,
                           RankedTensorType inputType, ArrayRef<int64_t> axes) {
  auto kept = RankedTensorType::get(
      reducedShape(inputType.getShape(), axes, /*keepdim=*/true),
      inputType.getElementType());
  Value withAxes = grad;
  if (tensorTypeOf(grad) != kept)
    withAxes = b.create<ReshapeOp>(loc, kept, grad);
  return b.create<BroadcastOp>(loc, inputType, withAxes);
}

SmallVector<Value> SumOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {expandReduced(b, getLoc(), grads[0], tensorTypeOf(getInput()),
                        getAxes())};
}

SmallVector<Value> MeanOp::buildVJP(OpBuilder &b, ValueRange grads) {
  auto inputType = tensorTypeOf(getInput());
  int64_t count = 1;
  for (int64_t axis : getAxes())
    count *= inputType.getDimSize(axis);
  Value expanded = expandReduced(b, getLoc(), grads[0], inputType, getAxes());
  return {b.create<MulOp>(getLoc(), expanded,
                          splat(b, getLoc(), inputType, 1.0 / count))};
}

SmallVector<Value> MaxOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<MaxBackwardOp>(getLoc(), getInput().getType(), grads[0],
                                  getInput(), getAxes(), getKeepdim())};
}
