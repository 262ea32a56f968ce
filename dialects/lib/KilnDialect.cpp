// Registers the kiln dialect, its ops and its interfaces.
#include "kiln/Dialect/KilnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace kiln;

#include "kiln/Dialect/KilnEnums.cpp.inc"
#include "kiln/Dialect/KilnOpsDialect.cpp.inc"
#include "kiln/Dialect/KilnInterfaces.cpp.inc"

void KilnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "kiln/Dialect/KilnOps.cpp.inc"
      >();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

#define GET_OP_CLASSES
#include "kiln/Dialect/KilnOps.cpp.inc"
