// The kiln dialect and its ops, for C++ code inside the compiler.
#ifndef KILN_DIALECT_KILNDIALECT_H
#define KILN_DIALECT_KILNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "kiln/Dialect/KilnEnums.h.inc"
#include "kiln/Dialect/KilnOpsDialect.h.inc"
#include "kiln/Dialect/KilnInterfaces.h.inc"

#define GET_OP_CLASSES
#include "kiln/Dialect/KilnOps.h.inc"

namespace kiln {
/// The shape left after reducing `axes` of `shape`; with `keepdim` the reduced
/// axes stay as size-1 dimensions.
llvm::SmallVector<int64_t> reducedShape(llvm::ArrayRef<int64_t> shape,
                                        llvm::ArrayRef<int64_t> axes,
                                        bool keepdim);

/// Output extent of a convolution or pooling window along one axis.
int64_t convOutputSize(int64_t in, int64_t kernel, int64_t stride,
                       int64_t padding);
} // namespace kiln

#endif // KILN_DIALECT_KILNDIALECT_H
