// Devices: the CPU, and CUDA devices that this build cannot use yet.
#include "kiln/runtime/Device.h"

#include "kiln/runtime/Error.h"

namespace kiln {

Device Device::best() { return cpu(); }

std::string Device::toString() const {
  return isCpu() ? "cpu" : "cuda:" + std::to_string(index_);
}

void Device::checkUsable() const {
  if (isCpu())
    return;
  throw Error("device " + toString() +
              " is not available: this kiln has no CUDA backend yet, so "
              "tensors and programs live on the CPU; use Device::cpu() or "
              "Device::best()");
}

} // namespace kiln
