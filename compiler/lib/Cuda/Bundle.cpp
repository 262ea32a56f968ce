// compileCudaBundle: a model's CUDA plan with its kernels compiled ahead of
// time for the GPUs an AOT bundle is to run on.
#include "kiln/Cuda.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/Nvrtc.h"

#include <algorithm>

namespace kiln {

cuda::CudaBundle compileCudaBundle(nn::Module &model, const CompileSpec &spec,
                                   const std::vector<std::string> &archs) {
  if (archs.empty())
    throw Error("a CUDA bundle needs at least one GPU architecture, e.g. "
                "--arch sm_80,sm_90");
  if (!cuda::builtWithCuda())
    throw Error("this kiln was built without CUDA support, so it cannot "
                "compile CUDA kernels; rebuild it where the CUDA toolkit is "
                "installed, or use --target cpu");
  cuda::CudaBundle bundle;
  bundle.plan = generateCuda(model, spec);
  std::string oldest;
  for (const std::string &arch : archs) {
    if (arch.rfind("sm_", 0) != 0)
      throw Error("unknown GPU architecture '" + arch +
                  "'; name it as sm_80, sm_90 or sm_90a");
    cuda::CompiledImage image = cuda::compileCuda(bundle.plan.source, arch);
    // For an architecture newer than NVRTC, compileCuda gives PTX, which is
    // kept under its own name ("compute_120").
    bundle.images.push_back({image.arch, image.image});
    std::string base =
        arch.back() == 'a' ? arch.substr(0, arch.size() - 1) : arch;
    if (oldest.empty() ||
        std::stoi(base.substr(3)) < std::stoi(oldest.substr(3)))
      oldest = base;
  }
  // PTX for the oldest architecture lets the driver compile the kernels for
  // any newer GPU that no cubin fits.
  cuda::CompiledImage ptx =
      cuda::compileCuda(bundle.plan.source, oldest, /*ptx=*/true);
  if (std::none_of(
          bundle.images.begin(), bundle.images.end(),
          [&](const cuda::BundleImage &i) { return i.arch == ptx.arch; }))
    bundle.images.push_back({ptx.arch, ptx.image});
  return bundle;
}

} // namespace kiln
