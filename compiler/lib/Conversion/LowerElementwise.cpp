// Loop lowering of the elementwise ops: one flat loop over all elements.
#include "LoopEmitter.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kiln;

LogicalResult kiln::lowerElementwiseOp(Operation *op, LoopEmitter &e) {
  Value result = op->getResult(0);
  auto type = cast<RankedTensorType>(result.getType());
  Type element = type.getElementType();
  // Splat constant operands are used as scalars rather than loaded.
  SmallVector<Value> operands;
  for (Value operand : op->getOperands()) {
    if (std::optional<double> value = e.splatValue(operand))
      operands.push_back(e.floatConst(element, *value));
    else
      operands.push_back(e.flat(e.buffer(operand)));
  }
  Value out = e.flat(e.resultBuffer(result));
  Value zero = e.floatConst(element, 0.0);
  e.parallelLoops(
      {type.getNumElements()}, kElementwiseGrain, [&](ValueRange i) {
        SmallVector<Value> x;
        for (Value operand : operands)
          x.push_back(isa<MemRefType>(operand.getType()) ? e.load(operand, i)
                                                         : operand);
        Value y = llvm::TypeSwitch<Operation *, Value>(op)
                      .Case([&](AddOp) { return e.add(x[0], x[1]); })
                      .Case([&](SubOp) { return e.sub(x[0], x[1]); })
                      .Case([&](MulOp) { return e.mul(x[0], x[1]); })
                      .Case([&](DivOp) { return e.div(x[0], x[1]); })
                      .Case([&](PowOp) {
                        return e.b.create<math::PowFOp>(e.loc, x[0], x[1]);
                      })
                      .Case([&](NegOp) {
                        return e.b.create<arith::NegFOp>(e.loc, x[0]);
                      })
                      .Case([&](ExpOp) {
                        return e.b.create<math::ExpOp>(e.loc, x[0]);
                      })
                      .Case([&](LogOp) {
                        return e.b.create<math::LogOp>(e.loc, x[0]);
                      })
                      .Case([&](ReluOp) {
                        return e.select(e.greater(x[0], zero), x[0], zero);
                      })
                      .Case([&](ReluBackwardOp) {
                        return e.select(e.greater(x[1], zero), x[0], zero);
                      })
                      .Default([](Operation *) { return Value(); });
        e.store(y, out, i);
      });
  return success();
}
