// Where tensors live and programs run: the CPU, or a CUDA device found
// through the driver, which kiln opens at run time (kiln/runtime/cuda/Driver.h).
#ifndef KILN_RUNTIME_DEVICE_H
#define KILN_RUNTIME_DEVICE_H

#include <string>

namespace kiln {

class Device {
public:
  enum class Kind { Cpu, Cuda };

  static Device cpu() { return Device(Kind::Cpu, 0); }
  /// A CUDA device; checkUsable() says whether this machine has it.
  static Device cuda(int index = 0) { return Device(Kind::Cuda, index); }
  /// A usable CUDA device when there is one, else the CPU.
  static Device best();

  Kind kind() const { return kind_; }
  int index() const { return index_; }
  bool isCpu() const { return kind_ == Kind::Cpu; }
  /// "cpu" or "cuda:0", as PyTorch writes devices.
  std::string toString() const;
  bool operator==(const Device &) const = default;

  /// Throws kiln::Error saying why this device cannot be used, if it cannot
  /// ("no CUDA driver found (...)", or the devices that exist).
  void checkUsable() const;

private:
  Device(Kind kind, int index) : kind_(kind), index_(index) {}
  Kind kind_;
  int index_;
};

} // namespace kiln

#endif // KILN_RUNTIME_DEVICE_H
