// Blitz, part 3: C++'s counterpart of the NumPy bridge: wrapping memory
// you own without copying, reaching a tensor's data, and .npy files.
#include "kiln/runtime/Npy.h"
#include "kiln/runtime/Ops.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <vector>

int main() {
  // A tensor over a std::vector's memory: no copy, so changes to one are
  // changes to the other.
  std::vector<float> buffer(5, 1.0f);
  kiln::Tensor a = kiln::Tensor::fromBlob(buffer.data(), {5}, kiln::DType::F32);
  kiln::add_(a, 1);
  std::cout << "buffer[0] after a += 1: " << buffer[0] << "\n";
  buffer[4] = 7;
  std::cout << a << "\n";

  // The other way: data<T>() is a pointer into the tensor's storage.
  float *values = a.data<float>();
  values[0] = -1;
  std::cout << "buffer[0] after writing through data(): " << buffer[0] << "\n";

  // Memory handed over with a deleter is freed when the last view goes.
  {
    double *owned = new double[3]{0.5, 1.5, 2.5};
    kiln::Tensor b = kiln::Tensor::fromBlob(
        owned, {3}, kiln::DType::F64, [](void *p) {
          delete[] static_cast<double *>(p);
          std::cout << "deleter ran\n";
        });
    std::cout << b << "\n";
  }

  // .npy files are what np.save writes and np.load reads.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("kiln_blitz_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  kiln::writeNpy((dir / "a.npy").string(), a);
  kiln::Tensor back = kiln::readNpy((dir / "a.npy").string());
  std::cout << "round trip equal: " << std::boolalpha
            << back.allClose(a, 0, 0) << "\n";
  fs::remove_all(dir);
  return 0;
}
