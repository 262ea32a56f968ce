// kiln's CUDA backend, compiler side: CUDA C++ kernels and their launch plan
// for a model, and their compilation through NVRTC. No MLIR type appears
// here. Running a plan on a GPU is the runtime's job (CudaProgram.h).
#ifndef KILN_CUDA_H
#define KILN_CUDA_H

#include "kiln/Compiler.h"
#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/cuda/Bundle.h"

namespace kiln {

/// Traces `model`, derives what `spec` asks for (train_step and/or predict,
/// after autodiff, the optimizer step and fusion) and generates one CUDA
/// kernel per op or fused group, with every shape a constant, and the plan
/// that launches them. Needs no CUDA toolkit: the result is text.
cuda::CudaProgram generateCuda(nn::Module &model, const CompileSpec &spec);

/// The CUDA plan of a traced scalar function, as compileFunction compiles it
/// for the CPU: entry "f" and, with `gradient`, "f_grad".
cuda::CudaProgram generateCudaFunction(Graph &graph, Var result, bool gradient);

/// Generates `model`'s CUDA plan for `spec`, compiles it with NVRTC for the
/// GPU spec.device names (PTX if NVRTC does not know it yet) and makes
/// `program`, compiled from the same model and spec, run there. compile()
/// calls it for a CUDA spec.device.
void attachCuda(Program &program, nn::Module &model, const CompileSpec &spec);

/// Compiles `plan`'s kernels with NVRTC for the GPU `device` names and makes
/// `program`, compiled from the module the plan was generated from, run
/// there, with its current parameters and optimizer state (loadProgram).
void attachCudaPlan(Program &program, cuda::CudaProgram plan,
                    const Device &device);

/// `model`'s CUDA plan for `spec` with its kernels compiled by NVRTC for
/// each of `archs` ("sm_80", "sm_90"), plus PTX for the oldest of them so
/// that the driver can compile the kernels for a newer GPU: what `kiln
/// compile --aot --target cuda` embeds in the object file. Throws
/// kiln::Error without CUDA support or NVRTC, or for an unknown arch.
cuda::CudaBundle compileCudaBundle(nn::Module &model, const CompileSpec &spec,
                                   const std::vector<std::string> &archs);

} // namespace kiln

#endif // KILN_CUDA_H
