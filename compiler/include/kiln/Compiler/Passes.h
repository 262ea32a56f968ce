// The kiln compiler passes and their registration.
#ifndef KILN_COMPILER_PASSES_H
#define KILN_COMPILER_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace kiln {

#define GEN_PASS_DECL
#include "kiln/Compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kiln/Compiler/Passes.h.inc"

/// Registers the named pipelines kiln-to-loops and kiln-loops-to-llvm.
void registerKilnPipelines();

/// Attribute names shared by the passes and the runtime conventions.
inline constexpr llvm::StringLiteral kParamAttr = "kiln.param";
inline constexpr llvm::StringLiteral kDifferentiateAttr = "kiln.differentiate";
inline constexpr llvm::StringLiteral kGradientOfAttr = "kiln.gradient_of";
inline constexpr llvm::StringLiteral kUpdatesAttr = "kiln.updates";
inline constexpr llvm::StringLiteral kArenaBytesAttr = "kiln.arena_bytes";
/// Functions kiln-outline-parallel makes start with this; object code turns
/// every call of one into a kiln_parallel_for call.
inline constexpr llvm::StringLiteral kParallelPrefix = "kiln.parallel.";

} // namespace kiln

#endif // KILN_COMPILER_PASSES_H
