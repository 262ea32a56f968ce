// Building, transforming and lowering kiln modules: the named pipelines.
#ifndef KILN_PIPELINE_PIPELINE_H
#define KILN_PIPELINE_PIPELINE_H

#include "kiln/Compiler.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include <functional>

namespace kiln {

/// A context with every dialect and translation kiln uses loaded.
std::unique_ptr<mlir::MLIRContext> makeContext();

/// Runs `populate`'s passes on `module`; throws kiln::Error with MLIR's
/// diagnostics if a pass fails.
void runPasses(mlir::ModuleOp module,
               const std::function<void(mlir::OpPassManager &)> &populate,
               const char *what);

/// Adds kiln-optimizer-step with the optimizer and options `spec` chooses.
void addOptimizerStep(mlir::OpPassManager &pm, const CompileSpec &spec);

/// Traces `model` into loss / predict functions and runs the kiln-level
/// pipeline: autodiff, optimizer step, canonicalize, CSE.
mlir::OwningOpRef<mlir::ModuleOp> buildKilnModule(mlir::MLIRContext &context,
                                                  nn::Module &model,
                                                  const CompileSpec &spec);

/// The passes of each lowering stage, also registered for kiln-opt.
/// `threads` is how many parts parallel loops are split into.
void buildLoopsPipeline(mlir::OpPassManager &pm, int64_t threads = 1);
void buildLlvmPipeline(mlir::OpPassManager &pm);

/// kiln → loops over buffers, one arena per function.
void lowerToLoops(mlir::ModuleOp module, int64_t threads);

/// The threads a spec asks for: CompileSpec::threads, or every hardware
/// thread when it is 0. Throws kiln::Error for a negative count.
int64_t threadsOf(const CompileSpec &spec);
/// loops → LLVM dialect, bare-pointer calling convention.
void lowerToLlvm(mlir::ModuleOp module);

/// Argument `i` of an entry function, tensor or loop level, read from its
/// argument attributes: role, name, shape, dtype, label bound.
ArgSpec describeArgument(mlir::func::FuncOp fn, unsigned i);

/// The entry points of a loop-level module, read from its argument
/// attributes (call `lowerToLoops` first).
std::vector<EntryPoint> describeEntryPoints(mlir::ModuleOp module);

} // namespace kiln

#endif // KILN_PIPELINE_PIPELINE_H
