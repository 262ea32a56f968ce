// Loop lowering of matmul. With rhs untransposed the inner loop is an axpy
// over a row of rhs; with rhs transposed it is a dot product over a row of
// each operand. Both walk contiguous memory innermost.
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

  // Rows of the result are independent; split them when there is enough
  // work (multiply-adds) in each part.
  int64_t grain = std::max<int64_t>(1, kMatmulGrain / (n * k));
  if (tb) {
    e.parallelLoops({m, n}, grain, [&](ValueRange mn) {
      Value zero = e.floatConst(element, 0.0);
      Value dot = e.reduce({k}, {zero}, [&](ValueRange kk, ValueRange acc) {
        Value product = e.mul(lhsAt(mn[0], kk[0]), e.load(bm, {mn[1], kk[0]}));
        return SmallVector<Value>{e.add(acc[0], product)};
      })[0];
      e.store(dot, c, mn);
    });
    return success();
  }
  Value zero = e.floatConst(element, 0.0);
  e.parallelParts(m, grain, [&](Value begin, Value end, Value) {
    e.loops(ValueRange{begin}, ValueRange{end}, [&](ValueRange i) {
      e.loops({n}, [&](ValueRange j) { e.store(zero, c, {i[0], j[0]}); });
      e.loops({k}, [&](ValueRange kk) {
        Value scale = lhsAt(i[0], kk[0]);
        e.loops({n}, [&](ValueRange j) {
          SmallVector<Value> at = {i[0], j[0]};
          e.store(e.add(e.load(c, at), e.mul(scale, e.load(bm, {kk[0], j[0]}))),
                  c, at);
        });
      });
    });
  });
  return success();
}
