// Loop lowering of the optimizer updates, written over the parameter and
// state buffers in place.
#include "LoopEmitter.h"

using namespace mlir;
using namespace kiln;

namespace {

/// Where an update writes its new state, and whether that differs from
/// where the old state lives (a state the options leave unused must still
/// reach its result unchanged).
struct StateBuffers {
  Value old, updated;
  bool separate;
};

StateBuffers stateBuffers(LoopEmitter &e, Value state, Value result) {
  Value old = e.buffer(state), updated = e.resultBuffer(result);
  return {e.flat(old), e.flat(updated), old != updated};
}

void passThrough(LoopEmitter &e, const StateBuffers &state, ValueRange i) {
  if (state.separate)
    e.store(e.load(state.old, i), state.updated, i);
}

LogicalResult lowerSgd(SgdUpdateOp sgd, LoopEmitter &e) {
  auto type = cast<RankedTensorType>(sgd.getParam().getType());
  Type element = type.getElementType();
  double lr = sgd.getLr().convertToDouble();
  double momentum = sgd.getMomentum().convertToDouble();
  double dampening = sgd.getDampening().convertToDouble();
  double weightDecay = sgd.getWeightDecay().convertToDouble();
  Value param = e.flat(e.buffer(sgd.getParam()));
  Value grad = e.flat(e.buffer(sgd.getGrad()));
  Value newParam = e.flat(e.resultBuffer(sgd.getNewParam()));
  StateBuffers buffer =
      stateBuffers(e, sgd.getMomentumBuffer(), sgd.getNewMomentumBuffer());
  OpBuilder &b = e.b;
  Value step = e.load(e.buffer(sgd.getStep()), {});
  Value first = b.create<arith::CmpIOp>(
      e.loc, arith::CmpIPredicate::eq, step,
      b.create<arith::ConstantIntOp>(e.loc, 0, 64));
  e.parallelLoops(
      {type.getNumElements()}, kElementwiseGrain, [&](ValueRange i) {
        Value p = e.load(param, i);
        Value g = e.load(grad, i);
        if (weightDecay != 0)
          g = e.add(g, e.mul(e.floatConst(element, weightDecay), p));
        if (momentum == 0)
          passThrough(e, buffer, i); // without momentum the buffer is unused
        if (momentum != 0) {
          Value running = e.add(
              e.mul(e.floatConst(element, momentum), e.load(buffer.old, i)),
              e.mul(e.floatConst(element, 1.0 - dampening), g));
          Value m = e.select(first, g, running);
          e.store(m, buffer.updated, i);
          g = sgd.getNesterov()
                  ? e.add(g, e.mul(e.floatConst(element, momentum), m))
                  : m;
        }
        e.store(e.sub(p, e.mul(e.floatConst(element, lr), g)), newParam, i);
      });
  return success();
}

LogicalResult lowerAdam(AdamUpdateOp adam, LoopEmitter &e) {
  auto type = cast<RankedTensorType>(adam.getParam().getType());
  Type element = type.getElementType();
  OpBuilder &b = e.b;
  double lr = adam.getLr().convertToDouble();
  double beta1 = adam.getBeta1().convertToDouble();
  double beta2 = adam.getBeta2().convertToDouble();
  double weightDecay = adam.getWeightDecay().convertToDouble();
  // The bias corrections depend on the step, so they are computed here, in
  // f64 like PyTorch's Python floats: t = step + 1,
  // stepSize = lr / (1 - beta1^t), correction2 = sqrt(1 - beta2^t).
  Type f64 = b.getF64Type();
  Value step = e.load(e.buffer(adam.getStep()), {});
  Value t = b.create<arith::SIToFPOp>(
      e.loc, f64,
      b.create<arith::AddIOp>(e.loc, step,
                              b.create<arith::ConstantIntOp>(e.loc, 1, 64)));
  auto oneMinusPow = [&](double beta) {
    Value power = b.create<math::PowFOp>(e.loc, e.floatConst(f64, beta), t);
    return b.create<arith::SubFOp>(e.loc, e.floatConst(f64, 1.0), power);
  };
  auto toElement = [&](Value value) -> Value {
    if (element.isF64())
      return value;
    return b.create<arith::TruncFOp>(e.loc, element, value);
  };
  Value stepSize = toElement(b.create<arith::DivFOp>(
      e.loc, e.floatConst(f64, lr), oneMinusPow(beta1)));
  Value correction2 =
      toElement(b.create<math::SqrtOp>(e.loc, oneMinusPow(beta2)));

  Value param = e.flat(e.buffer(adam.getParam()));
  Value grad = e.flat(e.buffer(adam.getGrad()));
  Value newParam = e.flat(e.resultBuffer(adam.getNewParam()));
  StateBuffers m = stateBuffers(e, adam.getExpAvg(), adam.getNewExpAvg());
  StateBuffers v = stateBuffers(e, adam.getExpAvgSq(), adam.getNewExpAvgSq());
  StateBuffers vmax =
      stateBuffers(e, adam.getMaxExpAvgSq(), adam.getNewMaxExpAvgSq());
  auto constant = [&](double value) { return e.floatConst(element, value); };
  e.parallelLoops(
      {type.getNumElements()}, kElementwiseGrain, [&](ValueRange i) {
        Value p = e.load(param, i);
        Value g = e.load(grad, i);
        if (weightDecay != 0)
          g = e.add(g, e.mul(constant(weightDecay), p));
        Value mNew = e.add(e.mul(constant(beta1), e.load(m.old, i)),
                           e.mul(constant(1.0 - beta1), g));
        Value vNew = e.add(e.mul(constant(beta2), e.load(v.old, i)),
                           e.mul(constant(1.0 - beta2), e.mul(g, g)));
        e.store(mNew, m.updated, i);
        e.store(vNew, v.updated, i);
        Value second = vNew;
        if (adam.getAmsgrad()) {
          second =
              b.create<arith::MaximumFOp>(e.loc, e.load(vmax.old, i), vNew);
          e.store(second, vmax.updated, i);
        } else {
          passThrough(e, vmax, i);
        }
        Value denom =
            e.add(e.div(b.create<math::SqrtOp>(e.loc, second), correction2),
                  constant(adam.getEps().convertToDouble()));
        e.store(e.sub(p, e.mul(stepSize, e.div(mNew, denom))), newParam, i);
      });
  return success();
}

LogicalResult lowerRmsProp(RmsPropUpdateOp rms, LoopEmitter &e) {
  auto type = cast<RankedTensorType>(rms.getParam().getType());
  Type element = type.getElementType();
  OpBuilder &b = e.b;
  double alpha = rms.getAlpha().convertToDouble();
  double weightDecay = rms.getWeightDecay().convertToDouble();
  double momentum = rms.getMomentum().convertToDouble();
  Value param = e.flat(e.buffer(rms.getParam()));
  Value grad = e.flat(e.buffer(rms.getGrad()));
  Value newParam = e.flat(e.resultBuffer(rms.getNewParam()));
  StateBuffers square =
      stateBuffers(e, rms.getSquareAvg(), rms.getNewSquareAvg());
  StateBuffers buf =
      stateBuffers(e, rms.getMomentumBuffer(), rms.getNewMomentumBuffer());
  StateBuffers gradAvg = stateBuffers(e, rms.getGradAvg(), rms.getNewGradAvg());
  auto constant = [&](double value) { return e.floatConst(element, value); };
  e.parallelLoops(
      {type.getNumElements()}, kElementwiseGrain, [&](ValueRange i) {
        Value p = e.load(param, i);
        Value g = e.load(grad, i);
        if (weightDecay != 0)
          g = e.add(g, e.mul(constant(weightDecay), p));
        Value s = e.add(e.mul(constant(alpha), e.load(square.old, i)),
                        e.mul(constant(1.0 - alpha), e.mul(g, g)));
        e.store(s, square.updated, i);
        Value variance = s;
        if (rms.getCentered()) {
          Value a = e.add(e.mul(constant(alpha), e.load(gradAvg.old, i)),
                          e.mul(constant(1.0 - alpha), g));
          e.store(a, gradAvg.updated, i);
          variance = e.sub(s, e.mul(a, a));
        } else {
          passThrough(e, gradAvg, i);
        }
        Value avg = e.add(b.create<math::SqrtOp>(e.loc, variance),
                          constant(rms.getEps().convertToDouble()));
        Value step = e.div(g, avg);
        if (momentum > 0) {
          step = e.add(e.mul(constant(momentum), e.load(buf.old, i)), step);
          e.store(step, buf.updated, i);
        } else {
          passThrough(e, buf, i);
        }
        e.store(e.sub(p, e.mul(constant(rms.getLr().convertToDouble()), step)),
                newParam, i);
      });
  return success();
}

} // namespace

LogicalResult kiln::lowerOptimizerOp(Operation *op, LoopEmitter &e) {
  if (auto adam = dyn_cast<AdamUpdateOp>(op))
    return lowerAdam(adam, e);
  if (auto rms = dyn_cast<RmsPropUpdateOp>(op))
    return lowerRmsProp(rms, e);
  return lowerSgd(cast<SgdUpdateOp>(op), e);
}
