// Loop lowering of the ops kiln-fuse makes beside conv2d_relu_pool: its
// gradient, linear layers, and the relu gradient with its bias sum. Each
// does in one pass what the unfused ops did in several, with the same
// arithmetic per element.
#include "Im2Col.h"

using namespace mlir;
using namespace kiln;

namespace {

// Image by image: the pooled gradient goes to the positions the forward op
// kept (pooling and relu gradient at once) in a one-image scratch buffer
// [F, OH*OW]; the bias, weight and input gradients are accumulated from it
// as conv2d's gradient lowerings do from a whole-batch gradient.
LogicalResult lowerConvReluPoolBackward(Conv2dReluPoolBackwardOp op,
                                        LoopEmitter &e) {
  ConvDims d =
      dimsOf(op.getInput(), op.getWeight(), op.getStride(), op.getPadding());
  int64_t taps = d.c * d.kh * d.kw, positions = d.oh * d.ow;
  int64_t kernel = op.getPoolKernel(), stride = op.getPoolStride();
  ArrayRef<int64_t> gradShape = op.getGrad().getType().getShape();
  Value dp = e.buffer(op.getGrad()), indices = e.buffer(op.getIndices());
  Value w = view(e, e.buffer(op.getWeight()), {d.f, taps});
  auto bufferIfUsed = [&](Value result) {
    return result.use_empty() ? Value() : e.resultBuffer(result);
  };
  Value dx = bufferIfUsed(op.getInputGrad());
  Value dwBuffer = bufferIfUsed(op.getWeightGrad());
  Value db = bufferIfUsed(op.getBiasGrad());
  Type element = op.getGrad().getType().getElementType();
  Value dw = dwBuffer ? view(e, dwBuffer, {d.f, taps}) : Value();
  Value x = dw ? e.buffer(op.getInput()) : Value();
  Value col = dw || dx ? columnBuffer(e, d, element) : Value();
  Value scratch = e.b.create<memref::AllocOp>(
      e.loc, MemRefType::get({d.f, positions}, element),
      e.b.getI64IntegerAttr(64));
  for (Value buffer : {dx, dwBuffer, db}) {
    if (buffer)
      e.fill(buffer, 0.0);
  }
  Value zero = e.floatConst(element, 0.0);
  e.loops({d.n}, [&](ValueRange n) {
    // Scatter: window (i, j) of filter f sends its gradient to position
    // index of the window, or nowhere for index -1.
    e.fill(scratch, 0.0);
    e.loops({d.f, gradShape[2], gradShape[3]}, [&](ValueRange at) {
      Value index = e.b.create<arith::IndexCastOp>(
          e.loc, e.b.getIndexType(),
          e.load(indices, {n[0], at[0], at[1], at[2]}));
      Value kept = e.b.create<arith::CmpIOp>(e.loc, arith::CmpIPredicate::sge,
                                             index, e.index(0));
      Value tap = e.select(kept, index, e.index(0));
      Value k = e.index(kernel);
      Value row =
          e.affine(at[1], stride, e.b.create<arith::DivUIOp>(e.loc, tap, k), 0);
      Value column =
          e.affine(at[2], stride, e.b.create<arith::RemUIOp>(e.loc, tap, k), 0);
      SmallVector<Value> target = {at[0], e.affine(row, d.ow, column, 0)};
      Value g = e.select(kept, e.load(dp, {n[0], at[0], at[1], at[2]}), zero);
      e.store(e.add(e.load(scratch, target), g), scratch, target);
    });
    if (db) {
      e.loops({d.f}, [&](ValueRange f) {
        Value total =
            e.reduce({positions}, {zero}, [&](ValueRange p, ValueRange acc) {
              return SmallVector<Value>{
                  e.add(acc[0], e.load(scratch, {f[0], p[0]}))};
            })[0];
        e.store(e.add(e.load(db, f), total), db, f);
      });
    }
    if (dw) {
      // dw[f, k] += sum_p scratch[f, p] * col[k, p]
      unfold(e, d, x, n[0], col);
      e.loops({d.f, taps}, [&](ValueRange fk) {
        Value dot =
            e.reduce({positions}, {zero}, [&](ValueRange p, ValueRange acc) {
              Value product = e.mul(e.load(scratch, {fk[0], p[0]}),
                                    e.load(col, {fk[1], p[0]}));
              return SmallVector<Value>{e.add(acc[0], product)};
            })[0];
        e.store(e.add(e.load(dw, fk), dot), dw, fk);
      });
    }
    if (dx) {
      // col[k, p] = sum_f w[f, k] * scratch[f, p], then folded into dx.
      e.loops({taps}, [&](ValueRange k) {
        e.loops({positions}, [&](ValueRange p) {
          e.store(zero, col, {k[0], p[0]});
        });
        e.loops({d.f}, [&](ValueRange f) {
          Value weight = e.load(w, {f[0], k[0]});
          e.loops({positions}, [&](ValueRange p) {
            SmallVector<Value> at = {k[0], p[0]};
            e.store(e.add(e.load(col, at),
                          e.mul(weight, e.load(scratch, {f[0], p[0]}))),
                    col, at);
          });
        });
      });
      fold(e, d, col, n[0], dx);
    }
  });
  return success();
}

// result[m, n] = act(dot(input[m, :], weight[n, :]) + bias[n]): matmul's
// transposed-rhs loop with the bias and relu applied before the store.
LogicalResult lowerLinear(LinearOp op, LoopEmitter &e) {
  Value x = e.buffer(op.getInput()), w = e.buffer(op.getWeight());
  Value bias = op.getBias() ? e.buffer(op.getBias()) : Value();
  Value y = e.resultBuffer(op.getResult());
  ArrayRef<int64_t> shape = op.getType().getShape();
  int64_t k = op.getInput().getType().getDimSize(1);
  Type element = op.getType().getElementType();
  Value zero = e.floatConst(element, 0.0);
  e.loops({shape[0], shape[1]}, [&](ValueRange mn) {
    Value v = e.reduce({k}, {zero}, [&](ValueRange kk, ValueRange acc) {
      Value product =
          e.mul(e.load(x, {mn[0], kk[0]}), e.load(w, {mn[1], kk[0]}));
      return SmallVector<Value>{e.add(acc[0], product)};
    })[0];
    if (bias)
      v = e.add(v, e.load(bias, {mn[1]}));
    if (op.getRelu())
      v = e.select(e.greater(v, zero), v, zero);
    e.store(v, y, mn);
  });
  return success();
}

// Row by row: the masked gradient is stored and added into the column sums,
// which sum each column in row order as kiln.sum does.
LogicalResult lowerBiasReluBackward(BiasReluBackwardOp op, LoopEmitter &e) {
  Value g = e.buffer(op.getGrad()), y = e.buffer(op.getInput());
  Value out =
      op.getResult().use_empty() ? Value() : e.resultBuffer(op.getResult());
  Value db = e.resultBuffer(op.getBiasGrad());
  RankedTensorType type = op.getGrad().getType();
  ArrayRef<int64_t> shape = type.getShape();
  Value zero = e.floatConst(type.getElementType(), 0.0);
  e.fill(db, 0.0);
  e.loops({shape[0], shape[1]}, [&](ValueRange mn) {
    Value v = e.select(e.greater(e.load(y, mn), zero), e.load(g, mn), zero);
    if (out)
      e.store(v, out, mn);
    e.store(e.add(e.load(db, {mn[1]}), v), db, {mn[1]});
  });
  return success();
}

} // namespace

LogicalResult kiln::lowerFusedOp(Operation *op, LoopEmitter &e) {
  if (auto backward = dyn_cast<Conv2dReluPoolBackwardOp>(op))
    return lowerConvReluPoolBackward(backward, e);
  if (auto linear = dyn_cast<LinearOp>(op))
    return lowerLinear(linear, e);
  if (auto biasGrad = dyn_cast<BiasReluBackwardOp>(op))
    return lowerBiasReluBackward(biasGrad, e);
  return op->emitOpError("is not a fused op");
}
