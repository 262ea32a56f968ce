// Vector code for the loop lowerings' hot spots: register-tiled matrix
// products (the inner kernel of convolutions and their gradients) and row
// copies (unfolding images).
//
// c[i, j] = init(i) + sum_k a(i, k) * b[k, j] is computed in tiles of
// kRows rows by kColumns columns held in vector registers: each step of k
// loads kColumns / kVector vectors of a row of b, broadcasts kRows scalars
// of a and does one fused multiply-add per accumulator, so the tile is read
// and written once rather than once per k as an axpy loop would. Columns
// past the last full vector are handled with masked loads and stores.
#include "LoopEmitter.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace kiln;

namespace {
// 4 x 32 keeps eight accumulators: enough independent FMAs to hide their
// latency, few enough registers to leave room for b and a.
constexpr int64_t kVector = kVectorWidth, kRows = 4, kColumns = 2 * kVector;
// The dot-product form keeps 4 x 4 accumulators along k.
constexpr int64_t kDotRows = 4, kDotColumns = 4;

Value zeroVectorOf(OpBuilder &b, Location loc, VectorType type) {
  return b.create<arith::ConstantOp>(
      loc, type,
      DenseElementsAttr::get(type, b.getZeroAttr(type.getElementType())));
}

// An scf.for from `begin` to `end` by `step` around body(iv).
void stepLoop(LoopEmitter &e, Value begin, Value end, int64_t step,
              const std::function<void(Value)> &body) {
  OpBuilder &b = e.b;
  b.create<scf::ForOp>(e.loc, begin, end, e.index(step), ValueRange{},
                       [&](OpBuilder &nested, Location, Value iv, ValueRange) {
                         OpBuilder::InsertionGuard guard(b);
                         b.setInsertionPoint(nested.getInsertionBlock(),
                                             nested.getInsertionPoint());
                         body(iv);
                         b.create<scf::YieldOp>(e.loc);
                       });
}

// Covers [begin, end) with body(start, count) for tiles of `size`: full
// tiles in a loop, then, for static bounds, one smaller tile, else tiles
// of one.
void tiled(LoopEmitter &e, Value begin, Value end, int64_t size,
           const std::function<void(Value, int64_t)> &body) {
  std::optional<int64_t> first = getConstantIntValue(begin);
  std::optional<int64_t> last = getConstantIntValue(end);
  if (first && last) {
    int64_t full = (*last - *first) / size * size;
    if (full > 0)
      stepLoop(e, begin, e.index(*first + full), size,
               [&](Value i) { body(i, size); });
    if (*last - *first > full)
      body(e.index(*first + full), *last - *first - full);
    return;
  }
  OpBuilder &b = e.b;
  Value count = b.create<arith::SubIOp>(e.loc, end, begin);
  Value tiles = b.create<arith::DivUIOp>(e.loc, count, e.index(size));
  Value fullEnd = e.addi(begin, e.muli(tiles, size));
  stepLoop(e, begin, fullEnd, size, [&](Value i) { body(i, size); });
  stepLoop(e, fullEnd, end, 1, [&](Value i) { body(i, 1); });
}
} // namespace

void LoopEmitter::gemm(const Gemm &g) {
  Type element = cast<MemRefType>(g.c.getType()).getElementType();
  auto vectorType = VectorType::get({kVector}, element);
  auto maskType = VectorType::get({kVector}, b.getI1Type());
  Value zeroVector = zeroVectorOf(b, loc, vectorType);

  // One tile: rows [i0, i0 + rows), columns [j0, j0 + columns).
  auto tile = [&](Value i0, int64_t rows, Value j0, int64_t columns) {
    int64_t vectors = (columns + kVector - 1) / kVector;
    int64_t tail = columns % kVector;
    Value mask = tail ? b.create<vector::ConstantMaskOp>(
                            loc, maskType, b.getI64ArrayAttr({tail}))
                      : Value();
    auto isMasked = [&](int64_t v) { return mask && v == vectors - 1; };
    auto column = [&](int64_t v) { return addi(j0, index(v * kVector)); };
    auto loadRow = [&](Value memref, Value row, int64_t v) -> Value {
      if (isMasked(v))
        return b.create<vector::MaskedLoadOp>(loc, vectorType, memref,
                                              ValueRange{row, column(v)}, mask,
                                              zeroVector);
      return b.create<vector::LoadOp>(loc, vectorType, memref,
                                      ValueRange{row, column(v)});
    };
    SmallVector<Value> init;
    for (int64_t r = 0; r < rows; ++r) {
      Value row = addi(i0, index(r));
      Value start = g.init ? b.create<vector::BroadcastOp>(loc, vectorType,
                                                           g.init(row))
                           : Value();
      for (int64_t v = 0; v < vectors; ++v)
        init.push_back(start ? start : loadRow(g.c, row, v));
    }
    auto loop = b.create<scf::ForOp>(
        loc, index(0), index(g.k), index(1), init,
        [&](OpBuilder &nested, Location, Value kk, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          SmallVector<Value> row;
          for (int64_t v = 0; v < vectors; ++v)
            row.push_back(loadRow(g.b, kk, v));
          SmallVector<Value> next;
          for (int64_t r = 0; r < rows; ++r) {
            Value scale = b.create<vector::BroadcastOp>(
                loc, vectorType, g.a(addi(i0, index(r)), kk));
            for (int64_t v = 0; v < vectors; ++v)
              next.push_back(b.create<vector::FMAOp>(loc, scale, row[v],
                                                     acc[r * vectors + v]));
          }
          b.create<scf::YieldOp>(loc, next);
        });
    for (int64_t r = 0; r < rows; ++r) {
      Value row = addi(i0, index(r));
      for (int64_t v = 0; v < vectors; ++v) {
        Value result = loop.getResult(r * vectors + v);
        if (isMasked(v))
          b.create<vector::MaskedStoreOp>(loc, g.c, ValueRange{row, column(v)},
                                          mask, result);
        else
          b.create<vector::StoreOp>(loc, result, g.c,
                                    ValueRange{row, column(v)});
      }
    }
  };

  Value rowBegin = g.rowBegin ? g.rowBegin : index(0);
  Value rowEnd = g.rowEnd ? g.rowEnd : index(g.m);
  tiled(*this, rowBegin, rowEnd, kRows, [&](Value i0, int64_t rows) {
    tiled(*this, index(0), index(g.n), kColumns,
          [&](Value j0, int64_t columns) { tile(i0, rows, j0, columns); });
  });
}

void LoopEmitter::gemmDot(const GemmDot &g) {
  Type element = cast<MemRefType>(g.c.getType()).getElementType();
  auto vectorType = VectorType::get({kVector}, element);
  Value zeroVector = zeroVectorOf(b, loc, vectorType);
  int64_t fullK = g.k / kVector * kVector, tail = g.k - fullK;
  Value tailMask = tail ? b.create<vector::ConstantMaskOp>(
                              loc, VectorType::get({kVector}, b.getI1Type()),
                              b.getI64ArrayAttr({tail}))
                        : Value();

  auto tile = [&](Value i0, int64_t rows, Value j0, int64_t columns) {
    // Rows of a and b at k offset kk (of batch item t when batched), whole
    // or masked vectors.
    auto vectorsAt = [&](Value memref, Value item, Value first, int64_t count,
                         Value kk, bool masked) {
      SmallVector<Value> vectors;
      for (int64_t r = 0; r < count; ++r) {
        SmallVector<Value> indices = {addi(first, index(r)), kk};
        if (item)
          indices.insert(indices.begin(), item);
        vectors.push_back(
            masked
                ? b.create<vector::MaskedLoadOp>(loc, vectorType, memref,
                                                 indices, tailMask, zeroVector)
                      .getResult()
                : b.create<vector::LoadOp>(loc, vectorType, memref, indices)
                      .getResult());
      }
      return vectors;
    };
    auto withLoop =
        [&](Value begin, Value end, int64_t step, ValueRange init,
            const std::function<SmallVector<Value>(Value, ValueRange)> &body) {
          auto loop = b.create<scf::ForOp>(
              loc, begin, end, index(step), init,
              [&](OpBuilder &nested, Location, Value iv, ValueRange carried) {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPoint(nested.getInsertionBlock(),
                                    nested.getInsertionPoint());
                b.create<scf::YieldOp>(loc, body(iv, carried));
              });
          return SmallVector<Value>(loop.result_begin(), loop.result_end());
        };
    // One batch item (or the whole of a and b): the k loop.
    auto alongK = [&](Value t, ValueRange start) {
      Value aItem = t ? addi(g.batchBegin, t) : Value();
      auto step = [&](Value kk, bool masked, ValueRange acc) {
        SmallVector<Value> as = vectorsAt(g.a, aItem, i0, rows, kk, masked);
        SmallVector<Value> bs = vectorsAt(g.b, t, j0, columns, kk, masked);
        SmallVector<Value> next;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t s = 0; s < columns; ++s)
            next.push_back(b.create<vector::FMAOp>(loc, as[r], bs[s],
                                                   acc[r * columns + s]));
        return next;
      };
      SmallVector<Value> acc(start);
      if (fullK > 0)
        acc = withLoop(index(0), index(fullK), kVector, acc,
                       [&](Value kk, ValueRange carried) {
                         return step(kk, false, carried);
                       });
      if (tail)
        acc = step(index(fullK), true, acc);
      return acc;
    };
    SmallVector<Value> zeros(rows * columns, zeroVector);
    // Batched, the sums run over every item before crossing lanes once.
    SmallVector<Value> acc = g.batch
                                 ? withLoop(index(0), g.batch, 1, zeros, alongK)
                                 : alongK(Value(), zeros);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t s = 0; s < columns; ++s) {
        SmallVector<Value> at = {addi(i0, index(r)), addi(j0, index(s))};
        Value total = b.create<vector::ReductionOp>(
            loc, vector::CombiningKind::ADD, acc[r * columns + s]);
        if (g.accumulate)
          total = add(load(g.c, at), total);
        if (g.finish)
          total = g.finish(at[0], at[1], total);
        store(total, g.c, at);
      }
    }
  };
  Value rowBegin = g.rowBegin ? g.rowBegin : index(0);
  Value rowEnd = g.rowEnd ? g.rowEnd : index(g.m);
  Value columnBegin = g.columnBegin ? g.columnBegin : index(0);
  Value columnEnd = g.columnEnd ? g.columnEnd : index(g.n);
  tiled(*this, rowBegin, rowEnd, kDotRows, [&](Value i0, int64_t rows) {
    tiled(*this, columnBegin, columnEnd, kDotColumns,
          [&](Value j0, int64_t columns) { tile(i0, rows, j0, columns); });
  });
}

void LoopEmitter::copyRow(Value from, ValueRange fromAt, Value to,
                          ValueRange toAt, Value length, int64_t maxLength,
                          bool add) {
  Type element = cast<MemRefType>(to.getType()).getElementType();
  auto vectorType = VectorType::get({kVector}, element);
  auto maskType = VectorType::get({kVector}, b.getI1Type());
  Value zeroVector = zeroVectorOf(b, loc, vectorType);
  std::optional<int64_t> known = getConstantIntValue(length);
  for (int64_t start = 0; start < maxLength; start += kVector) {
    auto shifted = [&](ValueRange at) {
      SmallVector<Value> indices(at);
      indices.back() = addi(indices.back(), index(start));
      return indices;
    };
    SmallVector<Value> source = shifted(fromAt), target = shifted(toAt);
    if (known && *known - start >= kVector) { // a whole vector
      Value v = b.create<vector::LoadOp>(loc, vectorType, from, source);
      if (add)
        v = this->add(b.create<vector::LoadOp>(loc, vectorType, to, target), v);
      b.create<vector::StoreOp>(loc, v, to, target);
      continue;
    }
    if (known && *known <= start)
      break;
    // create_mask clamps: lanes past the end are off, a negative count is
    // an empty mask.
    Value mask = b.create<vector::CreateMaskOp>(
        loc, maskType,
        ValueRange{b.create<arith::SubIOp>(loc, length, index(start))});
    Value v = b.create<vector::MaskedLoadOp>(loc, vectorType, from, source,
                                             mask, zeroVector);
    if (add)
      v = this->add(b.create<vector::MaskedLoadOp>(loc, vectorType, to,
                                                   target, mask, zeroVector),
                    v);
    b.create<vector::MaskedStoreOp>(loc, to, target, mask, v);
  }
}
