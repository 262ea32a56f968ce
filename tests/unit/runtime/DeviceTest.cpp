// Devices: the CPU works; a CUDA device is refused with a clear message.
#include "kiln/runtime/Device.h"
#include "kiln/runtime/Tensor.h"

#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("Tensor to the CPU is the same tensor") {
  Tensor t = Tensor::full({2, 2}, 3.0);
  Tensor moved = t.to(Device::cpu());
  CHECK(moved.sharesStorage(t));
  CHECK(Device::best() == Device::cpu());
  CHECK(Device::cpu().toString() == "cpu");
}

TEST_CASE("Tensor to a CUDA device says this build has no CUDA backend") {
  Tensor t = Tensor::zeros({2});
  CHECK(Device::cuda(1).toString() == "cuda:1");
  REQUIRE_THROWS_WITH(t.to(Device::cuda()),
                      Catch::Contains("device cuda:0 is not available") &&
                          Catch::Contains("no CUDA backend"));
}
