// Generating the CUDA plan of a kiln-level module (after autodiff, the
// optimizer step and fusion): kernels, launches and the arena plan.
#ifndef KILN_CUDA_EMITCUDA_H
#define KILN_CUDA_EMITCUDA_H

#include "kiln/runtime/CudaProgram.h"

#include "mlir/IR/BuiltinOps.h"

namespace kiln::cudagen {

/// One entry per function of `module`, all kernels in one source. Throws
/// kiln::Error naming the op when an op has no CUDA kernel.
cuda::CudaProgram generateCudaProgram(mlir::ModuleOp module);

} // namespace kiln::cudagen

#endif // KILN_CUDA_EMITCUDA_H
