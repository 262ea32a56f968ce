// Turns traced graphs into functions of the kiln dialect.
#ifndef KILN_FRONTEND_IMPORTER_H
#define KILN_FRONTEND_IMPORTER_H

#include "kiln/nn/Graph.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln {

/// Adds `name(params..., inputs...) -> results` to `module`. Parameters
/// carry `kiln.param`, inputs `kiln.input`; `differentiate` marks the
/// function for kiln-autodiff (which needs a single scalar result).
mlir::func::FuncOp importGraph(mlir::ModuleOp module, const Graph &graph,
                               llvm::ArrayRef<Var> results,
                               llvm::StringRef name, bool differentiate);

} // namespace kiln

#endif // KILN_FRONTEND_IMPORTER_H
