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
} // namespace

void LoopEmitter::gemm(const Gemm &g) {
  Type element = cast<MemRefType>(g.c.getType()).getElementType();
  auto vectorType = VectorType::get({kVector}, element);
  auto maskType = VectorType::get({kVector}, b.getI1Type());
  Value zeroVector = b.create<arith::ConstantOp>(
      loc, vectorType, DenseElementsAttr::get(vectorType, b.getZeroAttr(element)));

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

  // Full tiles in loops, then the leftover rows and columns once each.
  int64_t fullRows = g.m / kRows * kRows, fullColumns = g.n / kColumns * kColumns;
  auto stepLoop = [&](int64_t end, int64_t step,
                      const std::function<void(Value)> &body) {
    if (end == 0)
      return;
    b.create<scf::ForOp>(loc, index(0), index(end), index(step), ValueRange{},
                         [&](OpBuilder &nested, Location, Value iv, ValueRange) {
                           OpBuilder::InsertionGuard guard(b);
                           b.setInsertionPoint(nested.getInsertionBlock(),
                                               nested.getInsertionPoint());
                           body(iv);
                           b.create<scf::YieldOp>(loc);
                         });
  };
  auto rowOfTiles = [&](Value i0, int64_t rows) {
    stepLoop(fullColumns, kColumns,
             [&](Value j0) { tile(i0, rows, j0, kColumns); });
    if (g.n > fullColumns)
      tile(i0, rows, index(fullColumns), g.n - fullColumns);
  };
  stepLoop(fullRows, kRows, [&](Value i0) { rowOfTiles(i0, kRows); });
  if (g.m > fullRows)
    rowOfTiles(index(fullRows), g.m - fullRows);
}

void LoopEmitter::copyRow(Value from, ValueRange fromAt, Value to,
                          ValueRange toAt, Value length, int64_t maxLength,
                          bool add) {
  Type element = cast<MemRefType>(to.getType()).getElementType();
  auto vectorType = VectorType::get({kVector}, element);
  auto maskType = VectorType::get({kVector}, b.getI1Type());
  Value zeroVector = b.create<arith::ConstantOp>(
      loc, vectorType, DenseElementsAttr::get(vectorType, b.getZeroAttr(element)));
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
