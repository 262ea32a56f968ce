// Blitz, part 1: making tensors, printing them, their dtype and size.
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Ops.h"

#include <iostream>

int main() {
  // Memory only: the values are whatever was there.
  kiln::Tensor x = kiln::Tensor::empty({5, 3});
  std::cout << "empty " << kiln::shapeToString(x.shape()) << "\n";

  // Uniform in [0, 1), from a seed: the same seed gives the same numbers.
  x = kiln::rand({5, 3}, /*seed=*/0);
  std::cout << x << "\n";

  // Zeros as int64, PyTorch's long.
  x = kiln::zeros({5, 3}, kiln::DType::I64);
  std::cout << x << "\n";

  // Straight from values.
  x = kiln::tensor({5.5, 3});
  std::cout << x << "\n";

  // From an existing tensor: newOnes keeps x's dtype unless told otherwise,
  // and the *Like functions keep its shape.
  x = kiln::newOnes(x, {5, 3}, kiln::DType::F64);
  std::cout << x << "\n";
  kiln::Generator gen(1);
  kiln::Tensor y = kiln::randnLike(x, gen, kiln::DType::F32);
  std::cout << y << "\n";

  // The size is a std::vector<int64_t>.
  std::cout << "size " << kiln::shapeToString(y.shape()) << " rows "
            << y.size(0) << " elements " << y.numel() << " dtype "
            << kiln::dtypeName(y.dtype()) << "\n";

  // Eager tensors live in host memory; compiled programs run on a GPU with
  // --device cuda. to(Device) keeps a tensor on the CPU and refuses a CUDA
  // device clearly; to(DType) changes the dtype, always copying.
  kiln::Device device = kiln::Device::best();
  kiln::Tensor onDevice = y.to(device);
  try {
    y.to(kiln::Device::cuda());
  } catch (const kiln::Error &error) {
    std::cout << "cuda: " << error.what() << "\n";
  }
  kiln::Tensor z = (onDevice + 1).to(kiln::DType::F64);
  std::cout << device.toString() << " " << z << "\n";
  return 0;
}
