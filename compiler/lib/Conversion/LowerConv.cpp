// Loop lowering of conv2d and its two gradients as matrix products over an
// unfolded image (im2col), one image at a time, in register tiles
// (Microkernels.cpp); the images of a batch are split across threads. Row
// and column ranges are clipped instead of testing for padding.
#include "Im2Col.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;
using namespace kiln;

ConvDims kiln::dimsOf(Value input, Value weight, int64_t stride, int64_t pad) {
  auto x = cast<ShapedType>(input.getType()).getShape();
  auto k = cast<ShapedType>(weight.getType()).getShape();
  return {x[0], x[1], x[2], x[3], k[0], k[2], k[3],
          convOutputSize(x[2], k[2], stride, pad),
          convOutputSize(x[3], k[3], stride, pad), stride, pad};
}

namespace {

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

// With stride 1, the output columns a tap (ki, kj) connects in one output
// row are one run, [colLo, colHi), reading input columns from colLo + kj -
// pad on: visits each output row with its input row and that run.
void forEachTapRun(LoopEmitter &e, const ConvDims &d, Value ki, Value kj,
                   const std::function<void(Value oh, Value ih, Value ow,
                                            Value iw, Value length)> &body) {
  assert(d.stride == 1 && "runs are contiguous only with stride 1");
  auto [rowLo, rowHi] = validRange(e, ki, d.h, d.oh, 1, d.pad);
  auto [colLo, colHi] = validRange(e, kj, d.w, d.ow, 1, d.pad);
  Value length = e.b.createOrFold<arith::SubIOp>(e.loc, colHi, colLo);
  Value iw = e.affine(colLo, 1, kj, -d.pad);
  e.loops(ValueRange{rowLo}, ValueRange{rowHi}, [&](ValueRange oh) {
    body(oh[0], e.affine(oh[0], 1, ki, -d.pad), colLo, iw, length);
  });
}

} // namespace

Value kiln::view(LoopEmitter &e, Value memref, ArrayRef<int64_t> shape) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return e.b.create<memref::ReinterpretCastOp>(
      e.loc, MemRefType::get(shape, type.getElementType()), memref, 0, shape,
      strides);
}

void kiln::unfold(LoopEmitter &e, const ConvDims &d, Value x, Value n,
                  Value col) {
  if (d.pad > 0)
    e.fill(col, 0.0);
  e.loops({d.c, d.kh, d.kw}, [&](ValueRange k) {
    Value row = e.affine(e.affine(k[0], d.kh, k[1], 0), d.kw, k[2], 0);
    if (d.stride == 1) {
      forEachTapRun(e, d, k[1], k[2],
                    [&](Value oh, Value ih, Value ow, Value iw, Value length) {
                      e.copyRow(x, {n, k[0], ih, iw}, col,
                                {row, e.affine(oh, d.ow, ow, 0)}, length, d.ow,
                                /*add=*/false);
                    });
      return;
    }
    forEachTap(e, d, k[1], k[2], [&](Value oh, Value ow, Value ih, Value iw) {
      e.store(e.load(x, {n, k[0], ih, iw}), col,
              {row, e.affine(oh, d.ow, ow, 0)});
    });
  });
}

// Writes image `n` of `dx` from `col`: the transpose of unfold. With stride
// 1, each input row gathers the runs of every tap that lands on it in a
// vector register and is stored once (adding runs into dx instead would
// reread rows just written with masked stores, which the CPU cannot
// forward); other strides add pixel by pixel into a zeroed image. Either
// way each pixel sums its taps in the same order.
void kiln::fold(LoopEmitter &e, const ConvDims &d, Value col, Value n,
                Value dx) {
  OpBuilder &b = e.b;
  Type element = cast<MemRefType>(dx.getType()).getElementType();
  if (d.stride != 1) {
    Value zero = e.floatConst(element, 0.0);
    e.loops({d.c, d.h, d.w}, [&](ValueRange at) {
      e.store(zero, dx, {n, at[0], at[1], at[2]});
    });
    e.loops({d.c, d.kh, d.kw}, [&](ValueRange k) {
      Value row = e.affine(e.affine(k[0], d.kh, k[1], 0), d.kw, k[2], 0);
      forEachTap(e, d, k[1], k[2], [&](Value oh, Value ow, Value ih, Value iw) {
        SmallVector<Value> at = {n, k[0], ih, iw};
        Value g = e.load(col, {row, e.affine(oh, d.ow, ow, 0)});
        e.store(e.add(e.load(dx, at), g), dx, at);
      });
    });
    return;
  }
  auto vectorType = VectorType::get({kVectorWidth}, element);
  auto maskType = VectorType::get({kVectorWidth}, b.getI1Type());
  auto lanes = [&](int64_t lo, int64_t hi) -> Value { // lanes [lo, hi) on
    SmallVector<bool> bits;
    for (int64_t lane = 0; lane < kVectorWidth; ++lane)
      bits.push_back(lane >= lo && lane < hi);
    return b.create<arith::ConstantOp>(
        e.loc, maskType, DenseElementsAttr::get(maskType, ArrayRef(bits)));
  };
  Value zeroVector = b.create<arith::ConstantOp>(
      e.loc, vectorType,
      DenseElementsAttr::get(vectorType, b.getZeroAttr(element)));
  // A flat view: with it, a run's first lane may sit before its row's start
  // (masked off) without the index going negative.
  Value flatCol = e.flat(col);
  int64_t positions = d.oh * d.ow;
  e.loops({d.c, d.h}, [&](ValueRange at) {
    // Kernel rows i whose output row oh = ih + pad - i exists.
    Value shifted = e.affine(at[1], 1, e.index(0), d.pad);
    Value iLo = b.create<arith::MaxSIOp>(
        e.loc, e.affine(shifted, 1, e.index(0), 1 - d.oh), e.index(0));
    Value iHi = b.create<arith::MinSIOp>(
        e.loc, e.affine(shifted, 1, e.index(0), 1), e.index(d.kh));
    iHi = b.create<arith::MaxSIOp>(e.loc, iHi, iLo);
    for (int64_t start = 0; start < d.w; start += kVectorWidth) {
      auto gathered = b.create<scf::ForOp>(
          e.loc, iLo, iHi, e.index(1), ValueRange{zeroVector},
          [&](OpBuilder &nested, Location, Value i, ValueRange acc) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nested.getInsertionBlock(),
                                nested.getInsertionPoint());
            Value oh = b.create<arith::SubIOp>(e.loc, shifted, i);
            Value tapRow =
                e.affine(e.affine(at[0], d.kh, i, 0), d.kw, e.index(0), 0);
            Value rowStart = e.affine(tapRow, positions, e.muli(oh, d.ow), 0);
            Value sum = acc[0];
            for (int64_t j = 0; j < d.kw; ++j) {
              // Input columns iw in [j - pad, ow + j - pad) read this tap.
              int64_t lo = std::max<int64_t>(0, j - d.pad) - start;
              int64_t hi = std::min(d.w, d.ow + j - d.pad) - start;
              lo = std::max<int64_t>(lo, 0);
              hi = std::min(hi, kVectorWidth);
              if (lo >= hi)
                continue;
              Value index = e.affine(rowStart, 1, e.index(0),
                                     j * positions + start + d.pad - j);
              Value run = b.create<vector::MaskedLoadOp>(
                  e.loc, vectorType, flatCol, ValueRange{index}, lanes(lo, hi),
                  zeroVector);
              sum = e.add(sum, run);
            }
            b.create<scf::YieldOp>(e.loc, sum);
          });
      SmallVector<Value> target = {n, at[0], at[1], e.index(start)};
      int64_t width = std::min(d.w - start, kVectorWidth);
      if (width == kVectorWidth)
        b.create<vector::StoreOp>(e.loc, gathered.getResult(0), dx, target);
      else
        b.create<vector::MaskedStoreOp>(e.loc, dx, target, lanes(0, width),
                                        gathered.getResult(0));
    }
  });
}

// Image by image: unfold, matrix product into a one-image scratch buffer
// with the bias, then relu and pooling straight from that buffer. The
// activation and arg-max results are written only when something reads them.
static LogicalResult lowerConvReluPool(Conv2dReluPoolOp op, LoopEmitter &e) {
  ConvDims d = dimsOf(op.getInput(), op.getWeight(), op.getStride(),
                      op.getPadding());
  int64_t taps = d.c * d.kh * d.kw, positions = d.oh * d.ow;
  int64_t kernel = op.getPoolKernel(), stride = op.getPoolStride();
  int64_t ph = convOutputSize(d.oh, kernel, stride, 0);
  int64_t pw = convOutputSize(d.ow, kernel, stride, 0);
  Value x = e.buffer(op.getInput());
  Value w = view(e, e.buffer(op.getWeight()), {d.f, taps});
  Value bias = op.getBias() ? e.buffer(op.getBias()) : Value();
  Value pooled = e.resultBuffer(op.getPooled());
  bool keepActivation = !op.getActivation().use_empty();
  Value activation = keepActivation
                         ? view(e, e.resultBuffer(op.getActivation()),
                                {d.n, d.f, positions})
                         : Value();
  Value indices =
      op.getIndices().use_empty() ? Value() : e.resultBuffer(op.getIndices());
  Type indexElement = op.getIndices().getType().getElementType();
  Type element = cast<ShapedType>(pooled.getType()).getElementType();
  // Images are independent: each part of the batch has its own scratch.
  int64_t parts = e.parts(d.n);
  Value cols = e.perPart(parts, {taps, positions}, element);
  Value scratches = e.perPart(parts, {d.f, positions}, element);
  Value zero = e.floatConst(element, 0.0);
  e.parallelParts(d.n, 1, [&](Value begin, Value end, Value part) {
    Value col = e.partOf(cols, part), scratch = e.partOf(scratches, part);
    e.loops(ValueRange{begin}, ValueRange{end}, [&](ValueRange n) {
      unfold(e, d, x, n[0], col);
      // scratch[f, p] = bias[f] + sum_k w[f, k] * col[k, p]
      e.gemm({d.f, positions, taps,
              [&](Value f, Value k) {
                return e.load(w, {f, k});
              },
              col, scratch,
              [&](Value f) { return bias ? e.load(bias, {f}) : zero; }});
      e.loops({d.f}, [&](ValueRange f) {
        // relu in place, and out to the activation when it is kept.
        e.loops({positions}, [&](ValueRange p) {
          Value v = e.load(scratch, {f[0], p[0]});
          Value r = e.select(e.greater(v, zero), v, zero);
          e.store(r, scratch, {f[0], p[0]});
          if (keepActivation)
            e.store(r, activation, {n[0], f[0], p[0]});
        });
        // The first maximum of each window wins, as in max_pool2d. Its
        // position is kept for the gradient, or -1 where relu zeroed it,
        // found in a second scan of the window: carrying it through the
        // first makes LLVM branch on every comparison.
        Value lowest =
            e.floatConst(element, -std::numeric_limits<double>::infinity());
        Value none = e.b.create<arith::ConstantIntOp>(e.loc, -1, indexElement);
        auto bits = [&](Value v) {
          return e.b.create<arith::BitcastOp>(
              e.loc, e.b.getIntegerType(element.getIntOrFloatBitWidth()), v);
        };
        e.loops({ph, pw}, [&](ValueRange o) {
          Value row0 = e.muli(o[0], stride), col0 = e.muli(o[1], stride);
          auto window = [&](ValueRange k) {
            return e.load(scratch, {f[0], e.affine(e.addi(row0, k[0]), d.ow,
                                                   e.addi(col0, k[1]), 0)});
          };
          Value best = e.reduce({kernel, kernel}, {lowest},
                                [&](ValueRange k, ValueRange acc) {
                                  Value v = window(k);
                                  return SmallVector<Value>{e.select(
                                      e.greater(v, acc[0]), v, acc[0])};
                                })[0];
          SmallVector<Value> at = {n[0], f[0], o[0], o[1]};
          e.store(best, pooled, at);
          if (!indices)
            return;
          // Scanning the window backwards, the last element equal to the
          // maximum seen is the first one: a chain of selects, no branches.
          // Relu outputs are never NaN or -0, so equal floats have equal
          // bits, and integers compare in fewer instructions.
          Value position = e.reduce(
              {kernel, kernel}, {none}, [&](ValueRange k, ValueRange acc) {
                Value i = e.b.create<arith::SubIOp>(
                    e.loc, e.index(kernel - 1), k[0]);
                Value j = e.b.create<arith::SubIOp>(
                    e.loc, e.index(kernel - 1), k[1]);
                Value equal = e.b.create<arith::CmpIOp>(
                    e.loc, arith::CmpIPredicate::eq, bits(window({i, j})),
                    bits(best));
                Value here = e.b.create<arith::IndexCastOp>(
                    e.loc, indexElement, e.affine(i, kernel, j, 0));
                return SmallVector<Value>{e.select(equal, here, acc[0])};
              })[0];
          e.store(e.select(e.greater(best, zero), position, none), indices,
                  at);
        });
      });
    });
  });
  return success();
}

LogicalResult kiln::lowerConvOp(Operation *op, LoopEmitter &e) {
  if (auto conv = dyn_cast<Conv2dOp>(op)) {
    ConvDims d = dimsOf(conv.getInput(), conv.getWeight(), conv.getStride(),
                        conv.getPadding());
    int64_t taps = d.c * d.kh * d.kw, positions = d.oh * d.ow;
    Value x = e.buffer(conv.getInput());
    Value w = view(e, e.buffer(conv.getWeight()), {d.f, taps});
    Value bias = conv.getBias() ? e.buffer(conv.getBias()) : Value();
    Value yBuffer = e.resultBuffer(conv.getResult());
    Type element = cast<ShapedType>(yBuffer.getType()).getElementType();
    Value y = view(e, yBuffer, {d.n, d.f, positions});
    Value cols = e.perPart(e.parts(d.n), {taps, positions}, element);
    // y[n, f, p] = bias[f] + sum_k w[f, k] * col[k, p]
    e.parallelParts(d.n, 1, [&](Value begin, Value end, Value part) {
      Value col = e.partOf(cols, part);
      e.loops(ValueRange{begin}, ValueRange{end}, [&](ValueRange n) {
        unfold(e, d, x, n[0], col);
        e.gemm({d.f, positions, taps,
                [&](Value f, Value k) {
                  return e.load(w, {f, k});
                },
                col, e.itemOf(y, n[0]),
                [&](Value f) {
                  return bias ? e.load(bias, {f}) : e.floatConst(element, 0.0);
                }});
      });
    });
    return success();
  }
  if (auto back = dyn_cast<Conv2dBackwardInputOp>(op)) {
    ConvDims d = dimsOf(back.getResult(), back.getWeight(), back.getStride(),
                        back.getPadding());
    int64_t taps = d.c * d.kh * d.kw, positions = d.oh * d.ow;
    Value w = view(e, e.buffer(back.getWeight()), {d.f, taps});
    Value dy = view(e, e.buffer(back.getGrad()), {d.n, d.f, positions});
    Value dx = e.resultBuffer(back.getResult());
    Type element = cast<ShapedType>(dx.getType()).getElementType();
    Value cols = e.perPart(e.parts(d.n), {taps, positions}, element);
    Value zero = e.floatConst(element, 0.0);
    // col[k, p] = sum_f w[f, k] * dy[n, f, p], then folded into dx[n].
    e.parallelParts(d.n, 1, [&](Value begin, Value end, Value part) {
      Value col = e.partOf(cols, part);
      e.loops(ValueRange{begin}, ValueRange{end}, [&](ValueRange n) {
        e.gemm({taps, positions, d.f,
                [&](Value k, Value f) {
                  return e.load(w, {f, k});
                },
                e.itemOf(dy, n[0]), col, [&](Value) { return zero; }});
        fold(e, d, col, n[0], dx);
      });
    });
    return success();
  }
  if (auto back = dyn_cast<Conv2dBackwardFilterOp>(op)) {
    ConvDims d = dimsOf(back.getInput(), back.getResult(), back.getStride(),
                        back.getPadding());
    int64_t taps = d.c * d.kh * d.kw, positions = d.oh * d.ow;
    Value x = e.buffer(back.getInput());
    Value dy = view(e, e.buffer(back.getGrad()), {d.n, d.f, positions});
    Value dwBuffer = e.resultBuffer(back.getResult());
    Type element = cast<ShapedType>(dwBuffer.getType()).getElementType();
    Value dw = view(e, dwBuffer, {d.f, taps});
    // A sum over the batch: each part of it adds into its own partial
    // gradient, and the partials are added up in part order afterwards.
    int64_t parts = e.parts(d.n);
    Value partials =
        parts > 1 ? e.perPart(parts, {d.f, taps}, element) : Value();
    // Images are unfolded a group at a time, so that each dot product is
    // summed across vector lanes once per group rather than once per image.
    int64_t group = std::min(kFilterGradientGroup, (d.n + parts - 1) / parts);
    Value cols = e.perPart(parts, {group, taps, positions}, element);
    OpBuilder &b = e.b;
    e.parallelParts(d.n, 1, [&](Value begin, Value end, Value part) {
      Value groupCols = e.partOf(cols, part);
      Value total = partials ? e.partOf(partials, part) : dw;
      e.fill(total, 0.0);
      // total[f, k] += sum_n sum_p dy[n, f, p] * col_n[k, p]
      b.create<scf::ForOp>(
          e.loc, begin, end, e.index(group), ValueRange{},
          [&](OpBuilder &nested, Location, Value first, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nested.getInsertionBlock(),
                                nested.getInsertionPoint());
            Value count = b.create<arith::MinSIOp>(
                e.loc, e.index(group),
                b.create<arith::SubIOp>(e.loc, end, first));
            e.loops(ValueRange{e.index(0)}, ValueRange{count},
                    [&](ValueRange t) {
                      unfold(e, d, x, e.addi(first, t[0]),
                             e.itemOf(groupCols, t[0]));
                    });
            LoopEmitter::GemmDot dot{d.f,       taps,  positions,          dy,
                                     groupCols, total, /*accumulate=*/true};
            dot.batch = count;
            dot.batchBegin = first;
            e.gemmDot(dot);
            b.create<scf::YieldOp>(e.loc);
          });
    });
    if (partials)
      e.sumParts(partials, dw);
    return success();
  }
  if (auto fused = dyn_cast<Conv2dReluPoolOp>(op))
    return lowerConvReluPool(fused, e);
  return op->emitOpError("is not a convolution op");
}
