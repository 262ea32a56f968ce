// Small builders shared by the per-op gradient rules.
#ifndef KILN_DIALECT_GRADIENTUTILS_H
#define KILN_DIALECT_GRADIENTUTILS_H

#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/Builders.h"

namespace kiln {

inline mlir::RankedTensorType tensorTypeOf(mlir::Value value) {
  return mlir::cast<mlir::RankedTensorType>(value.getType());
}

/// A constant tensor of `type` with every element equal to `value`.
inline mlir::Value splat(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::RankedTensorType type, double value) {
  auto element = mlir::cast<mlir::FloatType>(type.getElementType());
  auto attr = mlir::DenseElementsAttr::get(
      type, mlir::FloatAttr::get(element, value));
  return b.create<ConstantOp>(loc, attr);
}

/// Reverses a NumPy broadcast: sums `grad` over the axes that broadcasting
/// `target` to grad's shape added or repeated, and gives it target's shape.
inline mlir::Value sumToShape(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value grad, mlir::RankedTensorType target) {
  auto gradType = tensorTypeOf(grad);
  if (gradType == target)
    return grad;
  int64_t lead = gradType.getRank() - target.getRank();
  llvm::SmallVector<int64_t> axes;
  for (int64_t i = 0; i < gradType.getRank(); ++i) {
    if (i < lead || (target.getDimSize(i - lead) == 1 &&
                     gradType.getDimSize(i) != 1))
      axes.push_back(i);
  }
  mlir::Value summed = grad;
  if (!axes.empty()) {
    auto reduced = mlir::RankedTensorType::get(
        reducedShape(gradType.getShape(), axes, /*keepdim=*/false),
        gradType.getElementType());
    summed = b.create<SumOp>(loc, reduced, grad, axes, /*keepdim=*/false);
  }
  if (tensorTypeOf(summed) == target)
    return summed;
  return b.create<ReshapeOp>(loc, target, summed);
}

} // namespace kiln

#endif // KILN_DIALECT_GRADIENTUTILS_H
