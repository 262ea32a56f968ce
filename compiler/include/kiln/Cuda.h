// kiln's CUDA backend, compiler side: CUDA C++ kernels and their launch plan
// for a model, and their compilation through NVRTC. No MLIR type appears
// here. Running a plan on a GPU is the runtime's job (CudaProgram.h).
#ifndef KILN_CUDA_H
#define KILN_CUDA_H

#include "kiln/Compiler.h"
#include "kiln/runtime/CudaProgram.h"

namespace kiln {

/// Traces `model`, derives what `spec` asks for (train_step and/or predict,
/// after autodiff, the optimizer step and fusion) and generates one CUDA
/// kernel per op or fused group, with every shape a constant, and the plan
/// that launches them. Needs no CUDA toolkit: the result is text.
cuda::CudaProgram generateCuda(nn::Module &model, const CompileSpec &spec);

/// The CUDA plan of a traced scalar function, as compileFunction compiles it
/// for the CPU: entry "f" and, with `gradient`, "f_grad".
cuda::CudaProgram generateCudaFunction(Graph &graph, Var result, bool gradient);

} // namespace kiln

#endif // KILN_CUDA_H
