// Loop lowering of conv2d and its two gradients. Each loop nest puts the
// output column (contiguous for stride 1) innermost so that LLVM vectorises
// it, and clips the row and column ranges instead of testing for padding.
#include "LoopEmitter.h"

using namespace mlir;
using namespace kiln;

namespace {
struct ConvDims {
  int64_t n, c, h, w, f, kh, kw, oh, ow, stride, pad;
};

ConvDims dimsOf(Value input, Value weight, int64_t stride, int64_t pad) {
  auto x = cast<ShapedType>(input.getType()).getShape();
  auto k = cast<ShapedType>(weight.getType()).getShape();
  return {x[0], x[1], x[2], x[3], k[0], k[2], k[3],
          convOutputSize(x[2], k[2], stride, pad),
          convOutputSize(x[3], k[3], stride, pad), stride, pad};
}

// The output positions o in [0, outSize) whose input position
// o * stride + k - pad lies inside [0, inSize), for a kernel offset k.
std::pair<Value, Value> validRange(LoopEmitter &e, Value k, int64_t inSize,
                                   int64_t outSize, int64_t stride,
                                   int64_t pad) {
  if (pad == 0)
    return {e.index(0), e.index(outSize)};
  OpBuilder &b = e.b;
  Value s = e.index(stride);
  Value lo = b.create<arith::CeilDivSIOp>(
      e.loc, b.create<arith::SubIOp>(e.loc, e.index(pad), k), s);
  lo = b.create<arith::MaxSIOp>(e.loc, lo, e.index(0));
  Value hi = b.create<arith::CeilDivSIOp>(
      e.loc, b.create<arith::SubIOp>(e.loc, e.index(inSize + pad), k), s);
  hi = b.create<arith::MinSIOp>(e.loc, hi, e.index(outSize));
  hi = b.create<arith::MaxSIOp>(e.loc, hi, lo);
  return {lo, hi};
}

// Visits every (output row, output column, input row, input column) that a
// kernel tap (ki, kj) connects, skipping padding.
void forEachTap(LoopEmitter &e, const ConvDims &d, Value ki, Value kj,
                const std::function<void(Value, Value, Value, Value)> &body) {
  auto [rowLo, rowHi] = validRange(e, ki, d.h, d.oh, d.stride, d.pad);
  auto [colLo, colHi] = validRange(e, kj, d.w, d.ow, d.stride, d.pad);
  e.loops(ValueRange{rowLo, colLo}, ValueRange{rowHi, colHi},
          [&](ValueRange o) {
            Value ih = e.affine(o[0], d.stride, ki, -d.pad);
            Value iw = e.affine(o[1], d.stride, kj, -d.pad);
            body(o[0], o[1], ih, iw);
          });
}
} // namespace

LogicalResult kiln::lowerConvOp(Operation *op, LoopEmitter &e) {
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    ConvDims d = dimsOf(conv.getInput(), conv.getWeight(), conv.getStride(),
                        conv.getPadding());
    Value x = e.buffer(conv.getInput()), w = e.buffer(conv.getWeight());
    Value bias = conv.getBias() ? e.buffer(conv.getBias()) : Value();
    Value y = e.resultBuffer(conv.getResult());
    Type element = cast<ShapedType>(y.getType()).getElementType();
    e.loops({d.n, d.f}, [&](ValueRange nf) {
      Value init = bias ? e.load(bias, {nf[1]}) : e.floatConst(element, 0.0);
      e.loops({d.oh, d.ow}, [&](ValueRange o) {
        e.store(init, y, {nf[0], nf[1], o[0], o[1]});
      });
      e.loops({d.c, d.kh, d.kw}, [&](ValueRange k) {
        Value weight = e.load(w, {nf[1], k[0], k[1], k[2]});
        forEachTap(e, d, k[1], k[2], [&](Value oh, Value ow, Value ih, Value iw) {
          SmallVector<Value> at = {nf[0], nf[1], oh, ow};
          Value in = e.load(x, {nf[0], k[0], ih, iw});
          e.store(e.add(e.load(y, at), e.mul(weight, in)), y, at);
        });
      });
    });
    return success();
  }
  if (auto back = dyn_cast<Conv2dBackwardInputOp>(op)) {
    ConvDims d = dimsOf(back.getResult(), back.getWeight(), back.getStride(),
                        back.getPadding());
    Value dy = e.buffer(back.getGrad()), w = e.buffer(back.getWeight());
    Value dx = e.resultBuffer(back.getResult());
    e.fill(dx, 0.0);
    e.loops({d.n, d.f, d.c, d.kh, d.kw}, [&](ValueRange i) {
      Value weight = e.load(w, {i[1], i[2], i[3], i[4]});
      forEachTap(e, d, i[3], i[4], [&](Value oh, Value ow, Value ih, Value iw) {
        SmallVector<Value> at = {i[0], i[2], ih, iw};
        Value g = e.load(dy, {i[0], i[1], oh, ow});
        e.store(e.add(e.load(dx, at), e.mul(weight, g)), dx, at);
      });
    });
    return success();
  }
  if (auto back = dyn_cast<Conv2dBackwardFilterOp>(op)) {
    ConvDims d = dimsOf(back.getInput(), back.getResult(), back.getStride(),
                        back.getPadding());
    Value dy = e.buffer(back.getGrad()), x = e.buffer(back.getInput());
    Value dw = e.resultBuffer(back.getResult());
    e.fill(dw, 0.0);
    e.loops({d.n, d.f, d.c, d.kh, d.kw}, [&](ValueRange i) {
      SmallVector<Value> at = {i[1], i[2], i[3], i[4]};
      Value acc = e.load(dw, at);
      auto [rowLo, rowHi] = validRange(e, i[3], d.h, d.oh, d.stride, d.pad);
      auto [colLo, colHi] = validRange(e, i[4], d.w, d.ow, d.stride, d.pad);
      OpBuilder &b = e.b;
      auto rows = b.create<scf::ForOp>(e.loc, rowLo, rowHi, e.index(1),
                                       ValueRange{acc});
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(rows.getBody());
        Value oh = rows.getInductionVar();
        Value ih = e.affine(oh, d.stride, i[3], -d.pad);
        auto cols = b.create<scf::ForOp>(e.loc, colLo, colHi, e.index(1),
                                         ValueRange{rows.getRegionIterArgs()[0]});
        {
          OpBuilder::InsertionGuard inner(b);
          b.setInsertionPointToStart(cols.getBody());
          Value ow = cols.getInductionVar();
          Value iw = e.affine(ow, d.stride, i[4], -d.pad);
          Value g = e.load(dy, {i[0], i[1], oh, ow});
          Value in = e.load(x, {i[0], i[2], ih, iw});
          b.create<scf::YieldOp>(
              e.loc, e.add(cols.getRegionIterArgs()[0], e.mul(g, in)));
        }
        b.create<scf::YieldOp>(e.loc, cols.getResult(0));
      }
      e.store(rows.getResult(0), dw, at);
    });
    return success();
  }
  return op->emitOpError("is not a convolution op");
}
