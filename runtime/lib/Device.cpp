// Devices: the CPU, and CUDA devices found through the driver at run time.
#include "kiln/runtime/Device.h"

#include "kiln/runtime/Error.h"
#include "kiln/runtime/cuda/Driver.h"

namespace kiln {

Device Device::best() {
  return cuda::Driver::available() ? cuda(0) : cpu();
}

std::string Device::toString() const {
  return isCpu() ? "cpu" : "cuda:" + std::to_string(index_);
}

void Device::checkUsable() const {
  if (isCpu())
    return;
  // Throws "no CUDA driver found (...)" or names the devices there are.
  cuda::Driver::get().device(index_);
}

} // namespace kiln
