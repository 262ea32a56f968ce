// attachCuda, attachCudaPlan: a compiled program's entry points moved onto a
// GPU.
#include "kiln/Cuda.h"

#include "kiln/runtime/Nvrtc.h"
#include "kiln/runtime/cuda/Driver.h"
#include "kiln/runtime/cuda/Executor.h"

#include <memory>

namespace kiln {

void attachCuda(Program &program, nn::Module &model, const CompileSpec &spec) {
  spec.device.checkUsable();
  attachCudaPlan(program, generateCuda(model, spec), spec.device);
}

void attachCudaPlan(Program &program, cuda::CudaProgram plan,
                    const Device &device) {
  device.checkUsable();
  cuda::checkPlanFits(program, plan); // trainInputs' views size the buffers
  cuda::DeviceInfo info = cuda::Driver::get().device(device.index());
  cuda::CompiledImage image = cuda::compileCuda(plan.source, info.arch());
  program.attachDevice(std::make_shared<cuda::Executor>(
      std::move(plan), image.image, info.index, program.namedParameters()));
}

} // namespace kiln
