// Where tensors live and programs run. kiln runs on the CPU today; the CUDA
// backend (tracked as an issue) will add CUDA devices behind this same type.
#ifndef KILN_RUNTIME_DEVICE_H
#define KILN_RUNTIME_DEVICE_H

#include <string>

namespace kiln {

class Device {
public:
  enum class Kind { Cpu, Cuda };

  static Device cpu() { return Device(Kind::Cpu, 0); }
  /// A CUDA device; using it fails with a clear error in this build.
  static Device cuda(int index = 0) { return Device(Kind::Cuda, index); }
  /// A usable CUDA device when there is one, else the CPU.
  static Device best();

  Kind kind() const { return kind_; }
  int index() const { return index_; }
  bool isCpu() const { return kind_ == Kind::Cpu; }
  /// "cpu" or "cuda:0", as PyTorch writes devices.
  std::string toString() const;
  bool operator==(const Device &) const = default;

  /// Throws kiln::Error saying why this device cannot be used, if it cannot.
  void checkUsable() const;

private:
  Device(Kind kind, int index) : kind_(kind), index_(index) {}
  Kind kind_;
  int index_;
};

} // namespace kiln

#endif // KILN_RUNTIME_DEVICE_H
