// kiln's CUDA driver layer, run against tests/unit/cuda/FakeDriver.cpp
// (ctest sets $KILN_CUDA_DRIVER to it): loading, device queries, checked
// errors, memory, modules, launches and graph replay.
#define CATCH_CONFIG_MAIN
#include "kiln/runtime/Device.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/cuda/Driver.h"

#include <catch2/catch.hpp>

#include <vector>

using Catch::Matchers::Contains;
using namespace kiln::cuda;

TEST_CASE("The driver opens from $KILN_CUDA_DRIVER and names its device",
          "[cuda]") {
  REQUIRE(Driver::available());
  Driver &cu = Driver::get();
  CHECK(cu.deviceCount() == 1);
  CHECK(cu.version() == 12040);
  DeviceInfo info = cu.device(0);
  CHECK(info.name == "kiln fake GPU");
  CHECK(info.arch() == "sm_90");
  CHECK_THROWS_WITH(cu.device(3), Contains("cuda:3 does not exist") &&
                                      Contains("1 CUDA device, cuda:0"));
  CHECK(kiln::Device::best() == kiln::Device::cuda(0));
  CHECK_NOTHROW(kiln::Device::cuda(0).checkUsable());
  CHECK_THROWS_WITH(kiln::Device::cuda(1).checkUsable(),
                    Contains("cuda:1 does not exist"));
}

TEST_CASE("A failed call names the call, CUDA's error and what to do",
          "[cuda]") {
  Context context(0);
  CHECK_THROWS_WITH(DeviceBuffer(size_t(4) << 30),
                    Contains("CUDA error in cuMemAlloc: "
                             "CUDA_ERROR_OUT_OF_MEMORY (out of memory)") &&
                        Contains("use a smaller batch"));
  CHECK_THROWS_WITH(Module("not a cubin", "kernels of lenet train_step"),
                    Contains("CUDA_ERROR_INVALID_IMAGE") &&
                        Contains("could not load kernels of lenet train_step"));
  Module module("FAKE fake_add", "the test module");
  CHECK_THROWS_WITH(module.function("conv2d_relu_pool_0"),
                    Contains("CUDA_ERROR_NOT_FOUND") &&
                        Contains("kernel conv2d_relu_pool_0 is not in the "
                                 "test module"));
}

TEST_CASE("Memory round-trips and a captured graph replays its launches",
          "[cuda]") {
  Context context(0);
  Stream stream;
  Driver &cu = Driver::get();
  constexpr int n = 5;
  PinnedBuffer host(n * sizeof(float));
  auto *values = static_cast<float *>(host.get());
  for (int i = 0; i < n; ++i)
    values[i] = static_cast<float>(i);
  DeviceBuffer device(n * sizeof(float));
  cu.check(cu.api().cuMemcpyHtoDAsync(device.get(), values, host.size(),
                                      stream.get()),
           "cuMemcpyHtoDAsync");

  Module module("FAKE fake_add", "the test module");
  CUfunction add = module.function("fake_add");
  auto *x = reinterpret_cast<float *>(device.get());
  int count = n;
  float value = 0.5f;
  void *arguments[] = {&x, &count, &value};
  unsigned grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};

  Graph graph;
  graph.capture(stream, [&] {
    launch(add, grid, block, 0, stream, arguments, "fake_add");
  });
  REQUIRE(graph.captured());
  for (int replay = 0; replay < 3; ++replay)
    graph.launch(stream);
  launch(add, grid, block, 0, stream, arguments, "fake_add");
  stream.synchronize();

  std::vector<float> back(n);
  cu.check(cu.api().cuMemcpyDtoHAsync(back.data(), device.get(),
                                      n * sizeof(float), stream.get()),
           "cuMemcpyDtoHAsync");
  for (int i = 0; i < n; ++i)
    CHECK(back[i] == static_cast<float>(i) + 4 * 0.5f);

  // A copy inside a capture is refused by the driver; the capture is
  // abandoned and the error names the call.
  Graph broken;
  CHECK_THROWS_WITH(broken.capture(stream,
                                   [&] {
                                     cu.check(cu.api().cuMemcpyHtoDAsync(
                                                  device.get(), values, 4,
                                                  stream.get()),
                                              "cuMemcpyHtoDAsync");
                                   }),
                    Contains("cuMemcpyHtoDAsync") &&
                        Contains("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"));
  CHECK_FALSE(broken.captured());
}
