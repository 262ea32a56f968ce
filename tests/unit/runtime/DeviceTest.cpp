// Devices: the CPU works; without a CUDA driver a CUDA device is refused
// with a clear message.
#include "kiln/runtime/Device.h"
#include "kiln/runtime/Tensor.h"

#include <catch2/catch.hpp>

#include <cstdlib>

using namespace kiln;

TEST_CASE("Tensor to the CPU is the same tensor") {
  Tensor t = Tensor::full({2, 2}, 3.0);
  Tensor moved = t.to(Device::cpu());
  CHECK(moved.sharesStorage(t));
  CHECK(Device::cpu().toString() == "cpu");
}

TEST_CASE("Without a CUDA driver, a CUDA device is refused clearly") {
  if (std::getenv("KILN_CUDA_DRIVER") == nullptr)
    setenv("KILN_CUDA_DRIVER", "libkiln-no-such-driver.so.1", 1);
  Tensor t = Tensor::zeros({2});
  CHECK(Device::cuda(1).toString() == "cuda:1");
  CHECK(Device::best() == Device::cpu());
  REQUIRE_THROWS_WITH(t.to(Device::cuda()),
                      Catch::Contains("no CUDA driver found") &&
                          Catch::Contains("--device cpu"));
}
