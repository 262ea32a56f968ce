// Loop lowering of the losses: softmax cross-entropy (and its gradient) and
// squared error, each reduced by its mean or sum, or not at all.
#include "LoopEmitter.h"

#include <limits>

using namespace mlir;
using namespace kiln;

namespace {
// Max and sum of exp(x - max) over row `i` of the logits, for a stable
// log-sum-exp.
std::pair<Value, Value> rowMaxAndExpSum(LoopEmitter &e, Value logits, Value i,
                                        int64_t classes, Type element) {
  Value lowest =
      e.floatConst(element, -std::numeric_limits<double>::infinity());
  Value max = e.reduce({classes}, {lowest}, [&](ValueRange j, ValueRange acc) {
    Value v = e.load(logits, {i, j[0]});
    return SmallVector<Value>{e.select(e.greater(v, acc[0]), v, acc[0])};
  })[0];
  Value zero = e.floatConst(element, 0.0);
  Value sum = e.reduce({classes}, {zero}, [&](ValueRange j, ValueRange acc) {
    Value v = e.sub(e.load(logits, {i, j[0]}), max);
    return SmallVector<Value>{
        e.add(acc[0], e.b.create<math::ExpOp>(e.loc, v))};
  })[0];
  return {max, sum};
}

// The label of row `i` as an index, clamped into [0, classes) so a bad
// label can never read out of bounds (the runtime rejects such labels).
Value labelAt(LoopEmitter &e, Value labels, Value i, int64_t classes) {
  OpBuilder &b = e.b;
  Value label = b.create<arith::IndexCastOp>(e.loc, b.getIndexType(),
                                             e.load(labels, {i}));
  label = b.create<arith::MaxSIOp>(e.loc, label, e.index(0));
  return b.create<arith::MinSIOp>(e.loc, label, e.index(classes - 1));
}

// -log softmax(logits[i])[labels[i]]: sample i's cross-entropy.
Value sampleCrossEntropy(LoopEmitter &e, Value logits, Value labels, Value i,
                         int64_t classes, Type element) {
  auto [max, sum] = rowMaxAndExpSum(e, logits, i, classes, element);
  Value lse = e.add(max, e.b.create<math::LogOp>(e.loc, sum));
  return e.sub(lse, e.load(logits, {i, labelAt(e, labels, i, classes)}));
}

// What a reduced loss's total is multiplied by: 1/count for the mean.
double reductionScale(LossReduction reduction, int64_t count) {
  return reduction == LossReduction::Mean ? 1.0 / count : 1.0;
}
} // namespace

LogicalResult kiln::lowerLossOp(Operation *op, LoopEmitter &e) {
  if (auto ce = dyn_cast<SoftmaxCrossEntropyOp>(op)) {
    auto shape = cast<ShapedType>(ce.getLogits().getType()).getShape();
    Type element = cast<ShapedType>(ce.getType()).getElementType();
    Value logits = e.buffer(ce.getLogits()), labels = e.buffer(ce.getLabels());
    Value out = e.resultBuffer(ce.getResult());
    if (ce.getReduction() == LossReduction::None) {
      e.loops({shape[0]}, [&](ValueRange i) {
        e.store(sampleCrossEntropy(e, logits, labels, i[0], shape[1], element),
                out, {i[0]});
      });
      return success();
    }
    Value zero = e.floatConst(element, 0.0);
    Value total = e.reduce({shape[0]}, {zero}, [&](ValueRange i,
                                                   ValueRange acc) {
      return SmallVector<Value>{e.add(
          acc[0],
          sampleCrossEntropy(e, logits, labels, i[0], shape[1], element))};
    })[0];
    double scale = reductionScale(ce.getReduction(), shape[0]);
    e.store(scale == 1.0 ? total : e.mul(total, e.floatConst(element, scale)),
            out, {});
    return success();
  }
  if (auto back = dyn_cast<SoftmaxCrossEntropyBackwardOp>(op)) {
    auto shape = cast<ShapedType>(back.getLogits().getType()).getShape();
    Type element = cast<ShapedType>(back.getType()).getElementType();
    Value logits = e.buffer(back.getLogits());
    Value labels = e.buffer(back.getLabels());
    Value grad = e.buffer(back.getGrad());
    Value out = e.resultBuffer(back.getResult());
    bool perSample = back.getReduction() == LossReduction::None;
    // Row i's factor: its own loss gradient for none, otherwise the scalar
    // gradient (divided by N for the mean), computed once.
    Value sharedScale;
    if (!perSample) {
      sharedScale = e.load(grad, {});
      double scale = reductionScale(back.getReduction(), shape[0]);
      if (scale != 1.0)
        sharedScale = e.mul(sharedScale, e.floatConst(element, scale));
    }
    Value one = e.floatConst(element, 1.0), zero = e.floatConst(element, 0.0);
    e.loops({shape[0]}, [&](ValueRange i) {
      Value scale = perSample ? e.load(grad, {i[0]}) : sharedScale;
      auto [max, sum] = rowMaxAndExpSum(e, logits, i[0], shape[1], element);
      Value label = labelAt(e, labels, i[0], shape[1]);
      e.loops({shape[1]}, [&](ValueRange j) {
        Value p = e.div(e.b.create<math::ExpOp>(
                            e.loc, e.sub(e.load(logits, {i[0], j[0]}), max)),
                        sum);
        Value isLabel = e.b.create<arith::CmpIOp>(
            e.loc, arith::CmpIPredicate::eq, j[0], label);
        Value target = e.select(isLabel, one, zero);
        e.store(e.mul(e.sub(p, target), scale), out, {i[0], j[0]});
      });
    });
    return success();
  }
  if (auto mse = dyn_cast<MseLossOp>(op)) {
    auto type = cast<RankedTensorType>(mse.getInput().getType());
    Type element = type.getElementType();
    Value a = e.flat(e.buffer(mse.getInput()));
    Value t = e.flat(e.buffer(mse.getTarget()));
    Value out = e.resultBuffer(mse.getResult());
    auto squaredError = [&](Value i) {
      Value x = e.load(a, {i});
      Value d = e.sub(x, e.load(t, {i}));
      return e.mul(d, d);
    };
    if (mse.getReduction() == LossReduction::None) {
      Value flatOut = e.flat(out);
      e.loops({type.getNumElements()}, [&](ValueRange i) {
        e.store(squaredError(i[0]), flatOut, {i[0]});
      });
      return success();
    }
    Value zero = e.floatConst(element, 0.0);
    Value total = e.reduce({type.getNumElements()}, {zero},
                           [&](ValueRange i, ValueRange acc) {
                             return SmallVector<Value>{
                                 e.add(acc[0], squaredError(i[0]))};
                           })[0];
    double scale = reductionScale(mse.getReduction(), type.getNumElements());
    e.store(scale == 1.0 ? total : e.mul(total, e.floatConst(element, scale)),
            out, {});
    return success();
  }
  return op->emitOpError("is not a loss op");
}
