// On a machine with an NVIDIA GPU: LeNet's kernels, compiled by NVRTC for
// that GPU, load into a CUDA module with every kernel the plan launches.
// Without a driver or a GPU it exits 77, which ctest reports as skipped.
#include "kiln/Cuda.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Nvrtc.h"

#include <cuda.h>
#include <dlfcn.h>

#include <cstdio>
#include <set>
#include <string>

namespace {
constexpr int kSkip = 77;

template <typename F> F symbol(void *library, const char *name) {
  return reinterpret_cast<F>(dlsym(library, name));
}
} // namespace

int main() {
  void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver) {
    std::printf("no CUDA driver (libcuda.so.1): skipped\n");
    return kSkip;
  }
  auto cuInit_ = symbol<decltype(&cuInit)>(driver, "cuInit");
  auto cuDeviceGet_ = symbol<decltype(&cuDeviceGet)>(driver, "cuDeviceGet");
  auto cuDeviceGetAttribute_ =
      symbol<decltype(&cuDeviceGetAttribute)>(driver, "cuDeviceGetAttribute");
  auto cuRetain_ = symbol<decltype(&cuDevicePrimaryCtxRetain)>(
      driver, "cuDevicePrimaryCtxRetain");
  auto cuSetCurrent_ =
      symbol<decltype(&cuCtxSetCurrent)>(driver, "cuCtxSetCurrent");
  auto cuLoad_ =
      symbol<decltype(&cuModuleLoadData)>(driver, "cuModuleLoadData");
  auto cuGetFunction_ =
      symbol<decltype(&cuModuleGetFunction)>(driver, "cuModuleGetFunction");
  if (!cuInit_ || !cuDeviceGet_ || !cuDeviceGetAttribute_ || !cuRetain_ ||
      !cuSetCurrent_ || !cuLoad_ || !cuGetFunction_) {
    std::printf("the CUDA driver lacks functions this check needs\n");
    return 1;
  }
  CUdevice device;
  if (cuInit_(0) != CUDA_SUCCESS || cuDeviceGet_(&device, 0) != CUDA_SUCCESS) {
    std::printf("no usable CUDA device: skipped\n");
    return kSkip;
  }
  int major = 0, minor = 0;
  cuDeviceGetAttribute_(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                        device);
  cuDeviceGetAttribute_(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                        device);
  CUcontext context;
  if (cuRetain_(&context, device) != CUDA_SUCCESS ||
      cuSetCurrent_(context) != CUDA_SUCCESS) {
    std::printf("cannot make a CUDA context\n");
    return 1;
  }
  std::string arch = "sm_" + std::to_string(major * 10 + minor);
  auto model = kiln::models::makeModel("lenet");
  kiln::CompileSpec spec;
  spec.inputShape = {256, 1, 32, 32};
  spec.predictBatch = 256;
  kiln::cuda::CudaProgram plan = kiln::generateCuda(*model, spec);
  kiln::cuda::CompiledImage image = kiln::cuda::compileCuda(plan.source, arch);
  CUmodule module;
  if (cuLoad_(&module, image.image.c_str()) != CUDA_SUCCESS) {
    std::printf("the %s image for %s does not load\n", image.arch.c_str(),
                arch.c_str());
    return 1;
  }
  std::set<std::string> kernels;
  for (const kiln::cuda::CudaEntry &entry : plan.entries)
    for (const kiln::cuda::KernelLaunch &launch : entry.launches)
      kernels.insert(launch.kernel);
  for (const std::string &kernel : kernels) {
    CUfunction function;
    if (cuGetFunction_(&function, module, kernel.c_str()) != CUDA_SUCCESS) {
      std::printf("kernel %s is missing from the module\n", kernel.c_str());
      return 1;
    }
  }
  std::printf("%zu kernels loaded for %s (%s image)\n", kernels.size(),
              arch.c_str(), image.arch.c_str());
  return 0;
}
