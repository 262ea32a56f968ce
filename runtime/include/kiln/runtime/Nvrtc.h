// Compiling CUDA C++ at run time with NVRTC, which kiln opens with dlopen:
// kiln starts, and trains on the CPU, on a machine without it. Compiled
// images are cached on disk. No CUDA header appears here.
//
//   cuda::CompiledImage image = cuda::compileCuda(program.source, "sm_80");
//   // image.image: a cubin for cuModuleLoadData; image.resources: ptxas'
//   // registers and spills per kernel.
#ifndef KILN_RUNTIME_NVRTC_H
#define KILN_RUNTIME_NVRTC_H

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cuda {

/// Whether this kiln was built with CUDA support (the CUDA toolkit was found
/// at configure time). Without it, compileCuda always throws.
bool builtWithCuda();

/// NVRTC as this process sees it.
struct NvrtcInfo {
  bool available = false;
  std::string path; ///< the library that was opened
  int major = 0, minor = 0;
  std::vector<int> archs; ///< compute capabilities it compiles for, e.g. 80
  std::string error;      ///< why it is not available
};
/// Opens NVRTC on first use: $KILN_NVRTC if set, else the toolkit kiln was
/// configured with, $CUDA_HOME, then the loader's search path.
const NvrtcInfo &nvrtcInfo();

/// The options every compile passes to NVRTC, besides -arch.
std::vector<std::string> nvrtcOptions();

/// What ptxas reports for one kernel (`-Xptxas -v`).
struct KernelResources {
  std::string kernel;
  int registers = 0;
  int64_t spillStoreBytes = 0, spillLoadBytes = 0;
  int64_t stackBytes = 0, sharedBytes = 0;
};
/// Reads ptxas' verbose report out of an NVRTC log.
std::vector<KernelResources> parsePtxasReport(const std::string &log);

enum class ImageKind { Cubin, Ptx };

struct CompiledImage {
  ImageKind kind = ImageKind::Cubin;
  /// What it was compiled for: "sm_90" for a cubin, "compute_90" for PTX.
  std::string arch;
  std::string image; ///< cubin bytes, or PTX text
  std::string log;   ///< NVRTC's log, with ptxas' report for a cubin
  std::vector<KernelResources> resources; ///< per kernel; empty for PTX
  bool fromCache = false;
};

/// Compiles `source` for `arch` ("sm_80", "sm_90a"): a cubin when NVRTC
/// knows the architecture; PTX for the newest one it knows when the
/// architecture is newer (the driver compiles that PTX for the GPU). With
/// `ptx`, PTX for the architecture itself. Results are cached in
/// cacheDirectory()/cuda, keyed by the source, architecture, options and
/// NVRTC's version. Throws kiln::Error when NVRTC is missing, the
/// architecture is older than NVRTC supports, or the source does not compile
/// (naming the kernel the first error is in).
CompiledImage compileCuda(const std::string &source, const std::string &arch,
                          bool ptx = false);

} // namespace kiln::cuda

#endif // KILN_RUNTIME_NVRTC_H
