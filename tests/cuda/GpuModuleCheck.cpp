// On a machine with an NVIDIA GPU: LeNet's kernels, compiled by NVRTC for
// that GPU, load into a CUDA module holding every kernel the plan launches.
// Without a driver or a GPU it exits 77, which ctest reports as skipped.
#include "kiln/Cuda.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Nvrtc.h"
#include "kiln/runtime/cuda/Driver.h"

#include <cstdio>
#include <exception>
#include <set>
#include <string>

int main() {
  std::string why;
  if (!kiln::cuda::Driver::available(&why)) {
    std::printf("%s: skipped\n", why.c_str());
    return 77;
  }
  try {
    kiln::cuda::Context context(0);
    std::string arch = context.info().arch();
    auto model = kiln::models::makeModel("lenet");
    kiln::CompileSpec spec;
    spec.inputShape = {256, 1, 32, 32};
    spec.predictBatch = 256;
    kiln::cuda::CudaProgram plan = kiln::generateCuda(*model, spec);
    kiln::cuda::CompiledImage image =
        kiln::cuda::compileCuda(plan.source, arch);
    kiln::cuda::Module module(image.image.c_str(), "LeNet's kernels");
    std::set<std::string> kernels;
    for (const kiln::cuda::CudaEntry &entry : plan.entries)
      for (const kiln::cuda::KernelLaunch &launch : entry.launches)
        kernels.insert(launch.kernel);
    for (const std::string &kernel : kernels)
      module.function(kernel); // throws when the kernel is missing
    std::printf("%zu kernels loaded on %s (%s, %s image)\n", kernels.size(),
                context.info().name.c_str(), arch.c_str(), image.arch.c_str());
    return 0;
  } catch (const std::exception &e) {
    std::printf("%s\n", e.what());
    return 1;
  }
}
