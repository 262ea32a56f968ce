// Loop lowering of matmul, in register tiles (Microkernels.cpp): with rhs
// untransposed, rows of rhs scaled by broadcast lhs scalars; with rhs
// transposed, dot products of rows of both operands. Both walk contiguous
// memory innermost.
#include "LoopEmitter.h"

#include <algorithm>

using namespace mlir;
using namespace kiln;

LogicalResult kiln::lowerMatmulOp(Operation *op, LoopEmitter &e) {
  auto matmul = cast<MatmulOp>(op);
  Value a = e.buffer(matmul.getLhs()), bm = e.buffer(matmul.getRhs());
  Value c = e.resultBuffer(matmul.getResult());
  auto cShape = cast<ShapedType>(c.getType()).getShape();
  auto aShape = cast<ShapedType>(a.getType()).getShape();
  bool ta = matmul.getTransposeLhs(), tb = matmul.getTransposeRhs();
  int64_t m = cShape[0], n = cShape[1], k = aShape[ta ? 0 : 1];
  Type element = cast<ShapedType>(c.getType()).getElementType();
  auto lhsAt = [&](Value i, Value kk) {
    return ta ? e.load(a, {kk, i}) : e.load(a, {i, kk});
  };

  // Rows (and columns) of the result are independent: split them into
  // parts when each part gets enough multiply-adds.
  Value zero = e.floatConst(element, 0.0);
  if (tb && !ta) {
    // Dot products of rows of both operands, in register tiles; split by
    // columns when there are too few rows to give each part a tile.
    bool byRows = m >= 4 * e.threads;
    int64_t grain = std::max<int64_t>(1, kMatmulGrain / ((byRows ? n : m) * k));
    e.parallelParts(byRows ? m : n, grain, [&](Value begin, Value end, Value) {
      LoopEmitter::GemmDot dot{m, n, k, a, bm, c, /*accumulate=*/false};
      (byRows ? dot.rowBegin : dot.columnBegin) = begin;
      (byRows ? dot.rowEnd : dot.columnEnd) = end;
      e.gemmDot(dot);
    });
    return success();
  }
  if (tb) {
    e.loops({m, n}, [&](ValueRange mn) {
      Value dot = e.reduce({k}, {zero}, [&](ValueRange kk, ValueRange acc) {
        Value product = e.mul(lhsAt(mn[0], kk[0]), e.load(bm, {mn[1], kk[0]}));
        return SmallVector<Value>{e.add(acc[0], product)};
      })[0];
      e.store(dot, c, mn);
    });
    return success();
  }
  // Rows of rhs scaled by lhs scalars, in register tiles.
  int64_t grain = std::max<int64_t>(1, kMatmulGrain / (n * k));
  e.parallelParts(m, grain, [&](Value begin, Value end, Value) {
    e.gemm({m, n, k, lhsAt, bm, c, [&](Value) { return zero; }, begin, end});
  });
  return success();
}
