// Loop lowering of max_pool2d and its gradient; the first maximum of a
// window wins, as in PyTorch.
#include "LoopEmitter.h"

#include <algorithm>
#include <limits>

using namespace mlir;
using namespace kiln;

LogicalResult kiln::lowerPoolOp(Operation *op, LoopEmitter &e) {
  Value inputTensor = op->getOperand(isa<MaxPool2dBackwardOp>(op) ? 1 : 0);
  auto inShape = cast<ShapedType>(inputTensor.getType()).getShape();
  int64_t kernel = cast<IntegerAttr>(op->getAttr("kernel")).getInt();
  int64_t stride = cast<IntegerAttr>(op->getAttr("stride")).getInt();
  int64_t oh = convOutputSize(inShape[2], kernel, stride, 0);
  int64_t ow = convOutputSize(inShape[3], kernel, stride, 0);
  Type element = cast<ShapedType>(inputTensor.getType()).getElementType();
  Value x = e.buffer(inputTensor);
  Value lowest =
      e.floatConst(element, -std::numeric_limits<double>::infinity());

  // The value and position of the first maximum of window (n, c, i, j).
  auto windowMax = [&](ValueRange at) {
    Value row0 = e.muli(at[2], stride), col0 = e.muli(at[3], stride);
    return e.reduce({kernel, kernel}, {lowest, row0, col0},
                    [&](ValueRange k, ValueRange acc) {
                      Value r = e.addi(row0, k[0]), c = e.addi(col0, k[1]);
                      Value v = e.load(x, {at[0], at[1], r, c});
                      Value better = e.greater(v, acc[0]);
                      return SmallVector<Value>{e.select(better, v, acc[0]),
                                                e.select(better, r, acc[1]),
                                                e.select(better, c, acc[2])};
                    });
  };

  // Images are independent; split the batch when there is enough of it.
  int64_t grain = std::max<int64_t>(
      1, kElementwiseGrain / (inShape[1] * inShape[2] * inShape[3]));
  if (auto pool = dyn_cast<MaxPool2dOp>(op)) {
    Value y = e.resultBuffer(pool.getResult());
    e.parallelLoops({inShape[0], inShape[1], oh, ow}, grain,
                    [&](ValueRange at) { e.store(windowMax(at)[0], y, at); });
    return success();
  }
  auto back = cast<MaxPool2dBackwardOp>(op);
  Value dy = e.buffer(back.getGrad());
  Value dx = e.resultBuffer(back.getResult());
  Value zero = e.floatConst(element, 0.0);
  e.parallelParts(inShape[0], grain, [&](Value begin, Value end, Value) {
    SmallVector<Value> lbs = {begin, e.index(0), e.index(0), e.index(0)};
    SmallVector<Value> inputUbs = {end, e.index(inShape[1]),
                                   e.index(inShape[2]), e.index(inShape[3])};
    SmallVector<Value> windowUbs = {end, e.index(inShape[1]), e.index(oh),
                                    e.index(ow)};
    e.loops(lbs, inputUbs, [&](ValueRange at) { e.store(zero, dx, at); });
    e.loops(lbs, windowUbs, [&](ValueRange at) {
      SmallVector<Value> best = windowMax(at);
      SmallVector<Value> target = {at[0], at[1], best[1], best[2]};
      e.store(e.add(e.load(dx, target), e.load(dy, at)), dx, target);
    });
  });
  return success();
}
