// Loop lowering of the optimizer updates, written over the parameter and
// state buffers in place.
#include "LoopEmitter.h"

using namespace mlir;
using namespace kiln;

LogicalResult kiln::lowerOptimizerOp(Operation *op, LoopEmitter &e) {
  auto sgd = cast<SgdUpdateOp>(op);
  auto type = cast<RankedTensorType>(sgd.getParam().getType());
  Type element = type.getElementType();
  double lr = sgd.getLr().convertToDouble();
  double momentum = sgd.getMomentum().convertToDouble();
  double dampening = sgd.getDampening().convertToDouble();
  double weightDecay = sgd.getWeightDecay().convertToDouble();
  Value param = e.flat(e.buffer(sgd.getParam()));
  Value grad = e.flat(e.buffer(sgd.getGrad()));
  Value buf = e.flat(e.buffer(sgd.getMomentumBuffer()));
  Value newParam = e.flat(e.resultBuffer(sgd.getNewParam()));
  Value newBuf = e.flat(e.resultBuffer(sgd.getNewMomentumBuffer()));
  OpBuilder &b = e.b;
  Value step = e.load(e.buffer(sgd.getStep()), {});
  Value first = b.create<arith::CmpIOp>(
      e.loc, arith::CmpIPredicate::eq, step,
      b.create<arith::ConstantIntOp>(e.loc, 0, 64));
  e.loops({type.getNumElements()}, [&](ValueRange i) {
    Value p = e.load(param, i);
    Value g = e.load(grad, i);
    if (weightDecay != 0)
      g = e.add(g, e.mul(e.floatConst(element, weightDecay), p));
    if (momentum != 0) {
      Value running = e.add(
          e.mul(e.floatConst(element, momentum), e.load(buf, i)),
          e.mul(e.floatConst(element, 1.0 - dampening), g));
      Value m = e.select(first, g, running);
      e.store(m, newBuf, i);
      g = sgd.getNesterov()
              ? e.add(g, e.mul(e.floatConst(element, momentum), m))
              : m;
    }
    e.store(e.sub(p, e.mul(e.floatConst(element, lr), g)), newParam, i);
  });
  return success();
}
