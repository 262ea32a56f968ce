// Loop lowering of the ops kiln-fuse makes beside conv2d_relu_pool: its
// gradient, linear layers, and the relu gradient with its bias sum. Each
// does in one pass what the unfused ops did in several, with the same
// arithmetic per element up to the order of sums (register tiles, parts of
// the batch on different threads).
#include "Im2Col.h"

#include <algorithm>

using namespace mlir;
using namespace kiln;

namespace {

// Image by image: the pooled gradient goes to the positions the forward op
// kept (pooling and relu gradient at once) in a one-image scratch buffer
// [F, OH*OW]; the bias, weight and input gradients are accumulated from it
// as conv2d's gradient lowerings do from a whole-batch gradient. The batch
// is split across threads: each part has its own scratch and columns, and
// its own partial bias and weight gradients, added up in part order after.
// Images go a group at a time, so the weight gradient's dot products cross
// vector lanes once per group.
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
  int64_t parts = e.parts(d.n);
  int64_t group =
      dw ? std::min(kFilterGradientGroup, (d.n + parts - 1) / parts) : 1;
  Value scratches = e.perPart(parts, {group, d.f, positions}, element);
  Value cols = dw || dx ? e.perPart(parts, {group, taps, positions}, element)
                        : Value();
  Value dwPartials =
      dw && parts > 1 ? e.perPart(parts, {d.f, taps}, element) : Value();
  Value dbPartials =
      db && parts > 1 ? e.perPart(parts, {d.f}, element) : Value();
  Value zero = e.floatConst(element, 0.0);
  OpBuilder &b = e.b;
  e.parallelParts(d.n, 1, [&](Value begin, Value end, Value part) {
    Value groupScratch = e.partOf(scratches, part);
    Value groupCols = cols ? e.partOf(cols, part) : Value();
    Value dwTotal = dwPartials ? e.partOf(dwPartials, part) : dw;
    Value dbTotal = dbPartials ? e.partOf(dbPartials, part) : db;
    for (Value total : {dwTotal, dbTotal}) {
      if (total)
        e.fill(total, 0.0);
    }
    b.create<scf::ForOp>(
        e.loc, begin, end, e.index(group), ValueRange{},
        [&](OpBuilder &nested, Location, Value first, ValueRange) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          Value count = b.create<arith::MinSIOp>(
              e.loc, e.index(group), b.create<arith::SubIOp>(e.loc, end, first));
          auto eachImage = [&](const std::function<void(Value, Value)> &body) {
            e.loops(ValueRange{e.index(0)}, ValueRange{count},
                    [&](ValueRange t) { body(t[0], e.addi(first, t[0])); });
          };
          eachImage([&](Value t, Value n) {
            Value scratch = e.itemOf(groupScratch, t);
            // Scatter: window (i, j) of filter f sends its gradient to
            // position index of the window, or nowhere for index -1.
            e.fill(scratch, 0.0);
            e.loops({d.f, gradShape[2], gradShape[3]}, [&](ValueRange at) {
              Value index = b.create<arith::IndexCastOp>(
                  e.loc, b.getIndexType(),
                  e.load(indices, {n, at[0], at[1], at[2]}));
              Value kept = b.create<arith::CmpIOp>(
                  e.loc, arith::CmpIPredicate::sge, index, e.index(0));
              Value tap = e.select(kept, index, e.index(0));
              Value k = e.index(kernel);
              Value row = e.affine(
                  at[1], stride, b.create<arith::DivUIOp>(e.loc, tap, k), 0);
              Value column = e.affine(
                  at[2], stride, b.create<arith::RemUIOp>(e.loc, tap, k), 0);
              SmallVector<Value> target = {at[0],
                                           e.affine(row, d.ow, column, 0)};
              Value g = e.select(kept, e.load(dp, {n, at[0], at[1], at[2]}),
                                 zero);
              e.store(e.add(e.load(scratch, target), g), scratch, target);
            });
            if (dbTotal) {
              e.loops({d.f}, [&](ValueRange f) {
                Value total = e.reduce({positions}, {zero},
                                       [&](ValueRange p, ValueRange acc) {
                                         return SmallVector<Value>{e.add(
                                             acc[0],
                                             e.load(scratch, {f[0], p[0]}))};
                                       })[0];
                e.store(e.add(e.load(dbTotal, f), total), dbTotal, f);
              });
            }
            if (dw)
              unfold(e, d, x, n, e.itemOf(groupCols, t));
          });
          // dw[f, k] += sum_t sum_p scratch_t[f, p] * col_t[k, p]
          if (dw) {
            LoopEmitter::GemmDot dot{d.f, taps, positions, groupScratch,
                                     groupCols, dwTotal, /*accumulate=*/true};
            dot.batch = count;
            dot.batchBegin = e.index(0);
            e.gemmDot(dot);
          }
          // col[k, p] = sum_f w[f, k] * scratch[f, p], then folded into dx.
          if (dx) {
            eachImage([&](Value t, Value n) {
              Value col = e.itemOf(groupCols, t);
              e.gemm({taps, positions, d.f,
                      [&](Value k, Value f) { return e.load(w, {f, k}); },
                      e.itemOf(groupScratch, t), col,
                      [&](Value) { return zero; }});
              fold(e, d, col, n, dx);
            });
          }
          b.create<scf::YieldOp>(e.loc);
        });
  });
  if (dwPartials)
    e.sumParts(dwPartials, dw);
  if (dbPartials)
    e.sumParts(dbPartials, db);
  return success();
}

// result[m, n] = act(dot(input[m, :], weight[n, :]) + bias[n]): matmul's
// transposed-rhs product in register tiles, with the bias and relu applied
// before the store, split across threads as matmul splits it.
LogicalResult lowerLinear(LinearOp op, LoopEmitter &e) {
  Value x = e.buffer(op.getInput()), w = e.buffer(op.getWeight());
  Value bias = op.getBias() ? e.buffer(op.getBias()) : Value();
  Value y = e.resultBuffer(op.getResult());
  ArrayRef<int64_t> shape = op.getType().getShape();
  int64_t m = shape[0], n = shape[1];
  int64_t k = op.getInput().getType().getDimSize(1);
  Type element = op.getType().getElementType();
  Value zero = e.floatConst(element, 0.0);
  bool byRows = m >= 4 * e.threads;
  int64_t grain = std::max<int64_t>(1, kMatmulGrain / ((byRows ? n : m) * k));
  e.parallelParts(byRows ? m : n, grain, [&](Value begin, Value end, Value) {
    LoopEmitter::GemmDot dot{m, n, k, x, w, y, /*accumulate=*/false};
    (byRows ? dot.rowBegin : dot.columnBegin) = begin;
    (byRows ? dot.rowEnd : dot.columnEnd) = end;
    dot.finish = [&](Value, Value j, Value v) {
      if (bias)
        v = e.add(v, e.load(bias, {j}));
      if (op.getRelu())
        v = e.select(e.greater(v, zero), v, zero);
      return v;
    };
    e.gemmDot(dot);
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
