// Loop lowering of reshape (a view), transpose and broadcast.
#include "LoopEmitter.h"

using namespace mlir;
using namespace kiln;

static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<ShapedType>(v.getType()).getShape();
}

// Row-major strides of a static shape.
static SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

LogicalResult kiln::lowerShapeOp(Operation *op, LoopEmitter &e) {
  if (auto reshape = dyn_cast<ReshapeOp>(op)) {
    Value input = e.buffer(reshape.getInput());
    auto type = cast<RankedTensorType>(reshape.getType());
    auto memrefType = MemRefType::get(type.getShape(), type.getElementType());
    Value view = e.b.create<memref::ReinterpretCastOp>(
        e.loc, memrefType, input, 0, type.getShape(),
        stridesOf(type.getShape()));
    if (!e.hasPreassigned(reshape.getResult())) {
      e.setBuffer(reshape.getResult(), view);
      return success();
    }
    // A returned reshape is copied into its output buffer.
    Value out = e.flat(e.resultBuffer(reshape.getResult()));
    Value in = e.flat(view);
    e.loops({type.getNumElements()},
            [&](ValueRange i) { e.store(e.load(in, i), out, i); });
    return success();
  }
  if (auto stop = dyn_cast<StopGradientOp>(op)) {
    Value input = e.buffer(stop.getInput());
    if (!e.hasPreassigned(stop.getResult())) {
      e.setBuffer(stop.getResult(), input); // the same values, the same buffer
      return success();
    }
    Value out = e.flat(e.resultBuffer(stop.getResult()));
    Value in = e.flat(input);
    int64_t n = cast<ShapedType>(input.getType()).getNumElements();
    e.loops({n}, [&](ValueRange i) { e.store(e.load(in, i), out, i); });
    return success();
  }
  if (auto transpose = dyn_cast<TransposeOp>(op)) {
    Value input = e.buffer(transpose.getInput());
    Value out = e.resultBuffer(transpose.getResult());
    ArrayRef<int64_t> perm = transpose.getPermutation();
    e.loops(shapeOf(transpose.getResult()), [&](ValueRange ivs) {
      SmallVector<Value> src(ivs.size());
      for (auto [i, axis] : llvm::enumerate(perm))
        src[axis] = ivs[i];
      e.store(e.load(input, src), out, ivs);
    });
    return success();
  }
  if (auto broadcast = dyn_cast<BroadcastOp>(op)) {
    Value input = e.buffer(broadcast.getInput());
    Value out = e.resultBuffer(broadcast.getResult());
    ArrayRef<int64_t> inShape = shapeOf(broadcast.getInput());
    ArrayRef<int64_t> outShape = shapeOf(broadcast.getResult());
    int64_t lead = outShape.size() - inShape.size();
    e.loops(outShape, [&](ValueRange ivs) {
      SmallVector<Value> src;
      for (auto [i, size] : llvm::enumerate(inShape))
        src.push_back(size == 1 ? e.index(0) : ivs[lead + i]);
      e.store(e.load(input, src), out, ivs);
    });
    return success();
  }
  return op->emitOpError("is not a shape op");
}
