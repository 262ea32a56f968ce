// Loop lowering of sum, mean and max over axes, and of max's gradient.
#include "LoopEmitter.h"

#include <limits>

using namespace mlir;
using namespace kiln;

namespace {
// Splits a reduction's input dimensions into kept (outer loops) and reduced
// (inner loops, carrying the accumulator), and maps indices back.
struct ReductionShape {
  SmallVector<int64_t> kept, reduced;
  SmallVector<int64_t> keptAxes, reducedAxes;

  ReductionShape(ArrayRef<int64_t> shape, ArrayRef<int64_t> axes) {
    for (auto [axis, size] : llvm::enumerate(shape)) {
      bool isReduced = llvm::is_contained(axes, static_cast<int64_t>(axis));
      (isReduced ? reduced : kept).push_back(size);
      (isReduced ? reducedAxes : keptAxes).push_back(axis);
    }
  }

  SmallVector<Value> inputIndex(ValueRange keptIvs, ValueRange reducedIvs) const {
    SmallVector<Value> index(kept.size() + reduced.size());
    for (auto [k, axis] : llvm::enumerate(keptAxes))
      index[axis] = keptIvs[k];
    for (auto [k, axis] : llvm::enumerate(reducedAxes))
      index[axis] = reducedIvs[k];
    return index;
  }

  // Index into the reduced tensor (reduced axes dropped or set to 0).
  SmallVector<Value> outputIndex(LoopEmitter &e, ValueRange keptIvs,
                                 bool keepdim) const {
    if (!keepdim)
      return SmallVector<Value>(keptIvs);
    SmallVector<Value> index(kept.size() + reduced.size());
    for (auto [k, axis] : llvm::enumerate(keptAxes))
      index[axis] = keptIvs[k];
    for (int64_t axis : reducedAxes)
      index[axis] = e.index(0);
    return index;
  }

  int64_t reducedCount() const {
    int64_t count = 1;
    for (int64_t size : reduced)
      count *= size;
    return count;
  }
};
} // namespace

LogicalResult kiln::lowerReductionOp(Operation *op, LoopEmitter &e) {
  Value inputTensor = op->getOperand(isa<MaxBackwardOp>(op) ? 1 : 0);
  auto inputType = cast<RankedTensorType>(inputTensor.getType());
  Type element = inputType.getElementType();
  auto axes = cast<DenseI64ArrayAttr>(op->getAttr("axes")).asArrayRef();
  bool keepdim = cast<BoolAttr>(op->getAttr("keepdim")).getValue();
  ReductionShape shape(inputType.getShape(), axes);
  Value input = e.buffer(inputTensor);
  double lowest = -std::numeric_limits<double>::infinity();

  if (auto backward = dyn_cast<MaxBackwardOp>(op)) {
    // Zero everything, then route each group's gradient to its first maximum.
    Value grad = e.buffer(backward.getGrad());
    Value out = e.resultBuffer(backward.getResult());
    e.fill(out, 0.0);
    SmallVector<int64_t> inputShape(inputType.getShape());
    SmallVector<int64_t> strides(inputShape.size(), 1);
    for (int64_t i = static_cast<int64_t>(inputShape.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * inputShape[i + 1];
    Value outFlat = e.flat(out);
    e.loops(shape.kept, [&](ValueRange keptIvs) {
      // Starts at the group's first element, so a group with no element
      // above -inf (all -inf or NaN) still routes its gradient inside itself.
      SmallVector<Value> firstIndex = shape.inputIndex(
          keptIvs, SmallVector<Value>(shape.reduced.size(), e.index(0)));
      Value firstOffset = e.index(0);
      for (auto [axis, iv] : llvm::enumerate(firstIndex))
        firstOffset = e.addi(firstOffset, e.muli(iv, strides[axis]));
      SmallVector<Value> init = {e.floatConst(element, lowest), firstOffset};
      SmallVector<Value> best = e.reduce(
          shape.reduced, init, [&](ValueRange ivs, ValueRange acc) {
            SmallVector<Value> index = shape.inputIndex(keptIvs, ivs);
            Value x = e.load(input, index);
            Value offset = e.index(0);
            for (auto [axis, iv] : llvm::enumerate(index))
              offset = e.addi(offset, e.muli(iv, strides[axis]));
            Value better = e.greater(x, acc[0]);
            return SmallVector<Value>{e.select(better, x, acc[0]),
                                      e.select(better, offset, acc[1])};
          });
      Value dy = e.load(grad, shape.outputIndex(e, keptIvs, keepdim));
      e.store(dy, outFlat, {best[1]});
    });
    return success();
  }

  Value out = e.resultBuffer(op->getResult(0));
  bool isMax = isa<MaxOp>(op);
  double scale = isa<MeanOp>(op) ? 1.0 / shape.reducedCount() : 1.0;
  e.loops(shape.kept, [&](ValueRange keptIvs) {
    Value init = e.floatConst(element, isMax ? lowest : 0.0);
    Value total = e.reduce(shape.reduced, {init},
                           [&](ValueRange ivs, ValueRange acc) {
                             Value x = e.load(input,
                                              shape.inputIndex(keptIvs, ivs));
                             if (isMax)
                               return SmallVector<Value>{e.select(
                                   e.greater(x, acc[0]), x, acc[0])};
                             return SmallVector<Value>{e.add(acc[0], x)};
                           })[0];
    if (scale != 1.0)
      total = e.mul(total, e.floatConst(element, scale));
    e.store(total, out, shape.outputIndex(e, keptIvs, keepdim));
  });
  return success();
}
