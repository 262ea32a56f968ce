// Gradient rules of matmul, convolution, pooling and the losses.
#include "GradientUtils.h"

using namespace mlir;
using namespace kiln;

SmallVector<Value> MatmulOp::buildVJP(OpBuilder &b, ValueRange grads) {
  Location loc = getLoc();
  Value dy = grads[0], lhs = getLhs(), rhs = getRhs();
  Type lhsType = lhs.getType(), rhsType = rhs.getType();
  bool tl = getTransposeLhs(), tr = getTransposeRhs();
  // With op(x) = x or its transpose, y = op(lhs) op(rhs); each case below is
  // the closed form of dlhs and drhs in the layouts lhs and rhs are stored in.
  if (!tl && !tr)
    return {b.create<MatmulOp>(loc, lhsType, dy, rhs, false, true),
            b.create<MatmulOp>(loc, rhsType, lhs, dy, true, false)};
  if (!tl && tr)
    return {b.create<MatmulOp>(loc, lhsType, dy, rhs, false, false),
            b.create<MatmulOp>(loc, rhsType, dy, lhs, true, false)};
  if (tl && !tr)
    return {b.create<MatmulOp>(loc, lhsType, rhs, dy, false, true),
            b.create<MatmulOp>(loc, rhsType, lhs, dy, false, false)};
  return {b.create<MatmulOp>(loc, lhsType, rhs, dy, true, true),
          b.create<MatmulOp>(loc, rhsType, dy, lhs, true, true)};
}

SmallVector<Value> Conv2dOp::buildVJP(OpBuilder &b, ValueRange grads) {
  Location loc = getLoc();
  Value dy = grads[0];
  SmallVector<Value> result = {
      b.create<Conv2dBackwardInputOp>(loc, getInput().getType(), dy,
                                      getWeight(), getStride(), getPadding()),
      b.create<Conv2dBackwardFilterOp>(loc, getWeight().getType(), dy,
                                       getInput(), getStride(), getPadding())};
  if (getBias()) {
    result.push_back(b.create<SumOp>(loc, getBias().getType(), dy,
                                     ArrayRef<int64_t>{0, 2, 3},
                                     /*keepdim=*/false));
  }
  return result;
}

SmallVector<Value> MaxPool2dOp::buildVJP(OpBuilder &b, ValueRange grads) {
  return {b.create<MaxPool2dBackwardOp>(getLoc(), getInput().getType(),
                                        grads[0], getInput(), getKernel(),
                                        getStride())};
}

SmallVector<Value> SoftmaxCrossEntropyOp::buildVJP(OpBuilder &b,
                                                   ValueRange grads) {
  return {b.create<SoftmaxCrossEntropyBackwardOp>(
              getLoc(), getLogits().getType(), grads[0], getLogits(),
              getLabels(), getReduction()),
          Value()};
}

SmallVector<Value> MseLossOp::buildVJP(OpBuilder &b, ValueRange grads) {
  Location loc = getLoc();
  auto type = tensorTypeOf(getInput());
  // d/dinput of (input - target)^2 is 2 (input - target), times the loss's
  // gradient: per element for none, the scalar's (divided by the count for
  // the mean) for the reductions.
  LossReduction reduction = getReduction();
  Value dLoss = grads[0];
  if (reduction != LossReduction::None)
    dLoss = b.create<BroadcastOp>(loc, type, dLoss);
  double factor =
      reduction == LossReduction::Mean ? 2.0 / type.getNumElements() : 2.0;
  Value scale = b.create<MulOp>(loc, dLoss, splat(b, loc, type, factor));
  Value dInput = b.create<MulOp>(
      loc, b.create<SubOp>(loc, getInput(), getTarget()), scale);
  return {dInput, b.create<NegOp>(loc, dInput)};
}
