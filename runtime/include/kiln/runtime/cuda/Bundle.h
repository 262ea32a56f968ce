// The CUDA half of an AOT bundle: a plan (kiln/runtime/CudaProgram.h) with
// its kernels already compiled for one or more GPU architectures, as one
// byte string. `kiln compile --aot --target cuda` embeds it in the object
// file; libkiln_runtime picks the image that fits the GPU it finds and runs
// the plan through the driver, with no NVRTC at run time.
//
//   cuda::CudaBundle bundle = cuda::parseCudaBundle(bytes);
//   cuda::attachCudaBundle(program, bundle, /*device=*/0);
#ifndef KILN_RUNTIME_CUDA_BUNDLE_H
#define KILN_RUNTIME_CUDA_BUNDLE_H

#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Program.h"

#include <string>
#include <vector>

namespace kiln::cuda {

/// The plan's source compiled for one architecture.
struct BundleImage {
  /// "sm_90": a cubin for GPUs of compute capability 9.x at or above 9.0;
  /// "compute_80": PTX, which the driver compiles for any GPU from 8.0 on.
  std::string arch;
  std::string bytes; ///< the cubin, or the PTX text
  bool isPtx() const { return arch.rfind("compute_", 0) == 0; }
  bool operator==(const BundleImage &) const = default;
};

struct CudaBundle {
  CudaProgram plan;
  std::vector<BundleImage> images;
};

/// One string holding the plan's text form and every image, each
/// length-prefixed. parseCudaBundle checks the header, the lengths and the
/// plan (parseCudaProgram) and throws kiln::Error on bytes it did not write.
std::string formatCudaBundle(const CudaBundle &bundle);
CudaBundle parseCudaBundle(const std::string &bytes);

/// The image to load on a GPU of compute capability major.minor: the cubin
/// of the same major version with the highest minor not above the GPU's;
/// else the PTX of the highest architecture not above it. Throws kiln::Error
/// naming the GPU's architecture and those the bundle has when none fits.
const BundleImage &selectImage(const CudaBundle &bundle, int major, int minor);

/// Makes `program` (the CPU entry points the bundle's plan was generated
/// alongside) run every entry point on CUDA device `device`: opens the
/// driver, picks the image, uploads the program's parameters. Throws
/// kiln::Error "no CUDA driver found ..." on a machine without one, and for
/// a plan whose arguments differ from the program's.
void attachCudaBundle(Program &program, const CudaBundle &bundle, int device);

/// Throws kiln::Error unless every entry point of `program` takes the same
/// arguments (but the arena) in `plan` as in its CPU code, so that the device
/// buffers fit the host tensors.
void checkPlanFits(const Program &program, const CudaProgram &plan);

} // namespace kiln::cuda

#endif // KILN_RUNTIME_CUDA_BUNDLE_H
