// The CUDA executor behind kiln::Program, run against the host-side fake
// driver (FakeDriver.cpp): a hand-written plan whose kernels the fake knows
// checks parameter residency, double-buffered inputs, the step counter,
// outputs, graph replay per buffer set, enqueued steps and their losses.
#include "kiln/runtime/cuda/Executor.h"
#include "FakePlan.h"
#include "kiln/runtime/CudaProgram.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Program.h"

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <memory>

using Catch::Matchers::Contains;
using namespace kiln;
using kiln::cuda::KernelArg;
using kiln::test::plan;
using kiln::test::vec;

namespace {
/// The CPU side: entry points with the same arguments and no code (the
/// device runs them all).
Program program(Tensor w) {
  std::vector<EntryPoint> entries;
  for (const cuda::CudaEntry &e : plan().entries)
    entries.push_back(EntryPoint{e.name, nullptr, e.args});
  return Program(entries, {{"w", w}}, nullptr);
}

/// program(w) running on the fake driver's GPU.
Program onFakeGpu(Tensor w) {
  Program p = program(w);
  cuda::CudaProgram cudaPlan = plan();
  p.attachDevice(std::make_shared<cuda::Executor>(cudaPlan, cudaPlan.source, 0,
                                                  p.namedParameters()));
  return p;
}

/// How often the fake driver saw entry point `name` ("" for all).
long long driverCalls(const char *name) {
  using Count = long long (*)(const char *);
  static Count count = [] {
    void *driver =
        dlopen(std::getenv("KILN_CUDA_DRIVER"), RTLD_NOW | RTLD_NOLOAD);
    return driver ? reinterpret_cast<Count>(dlsym(driver, "fake_cuda_calls"))
                  : nullptr;
  }();
  REQUIRE(count); // the fake driver, loaded by the executor already
  return count(name);
}

} // namespace

TEST_CASE("A program attached to the CUDA executor runs its entries there",
          "[cuda]") {
  Tensor w = vec({1, 1, 1, 1});
  Program p = program(w);
  cuda::CudaProgram cudaPlan = plan();
  auto executor = std::make_shared<cuda::Executor>(cudaPlan, cudaPlan.source, 0,
                                                   p.namedParameters());
  p.attachDevice(executor);
  CHECK(p.deviceDescription() == "cuda:0 (kiln fake GPU, sm_90)");

  Tensor x = vec({1, 2, 3, 4});
  Tensor labels = Tensor::zeros({1}, DType::I64); // unused by the kernels
  // Step 1: loss = sum(1 + x) = 14, then w = 1 + x on the device only.
  CHECK(p.trainStep(x, labels) == 14.0);
  CHECK(w.data<float>()[0] == 1.0f); // the host copy waits for a pull
  // Step 2 reads the other input buffer set: sum(w + x) = 24.
  CHECK(p.trainStep(x, labels) == 24.0);
  CHECK(p.stepsTaken() == 2);
  CHECK(p.namedParameters()[0].second.data<float>()[3] == 1.0f + 2 * 4.0f);

  // Predict: w + x, with the updated w.
  const Tensor &y = p.run("predict", {vec({0, 0, 0, 10})}).at(0);
  CHECK(y.data<float>()[0] == 3.0f);
  CHECK(y.data<float>()[3] == 19.0f);

  // The step counter reaches the kernels as the Program keeps it.
  p.setStepsTaken(41);
  CHECK(p.run("probe", {}).at(0).item() == 41.0);
}

TEST_CASE("Enqueued train steps keep every loss until taken", "[cuda]") {
  Tensor w = vec({0, 0, 0, 0});
  Program p = onFakeGpu(w);
  // Each step adds x to w; losses are sum(w + x) with w before the step.
  double expected = 0.0;
  float sumW = 0.0f;
  Tensor labels = Tensor::zeros({1}, DType::I64);
  for (int k = 1; k <= 5; ++k) {
    // A new batch tensor each time, overwritten after enqueueing: the
    // executor staged its own copy.
    Tensor x = vec({float(k), 0, 0, 0});
    p.enqueueTrainStep(x, labels);
    x.data<float>()[0] = -100.0f;
    expected += sumW + k;
    sumW += k;
  }
  CHECK(p.stepsTaken() == 5);
  auto [sum, count] = p.takeLosses();
  CHECK(count == 5);
  CHECK(sum == expected);
  auto [none, zero] = p.takeLosses();
  CHECK(zero == 0);
  CHECK(none == 0.0);
  CHECK(p.namedParameters()[0].second.data<float>()[0] == 15.0f);
  // A label outside the bound is still refused before anything is enqueued.
  CHECK_THROWS_WITH(
      p.enqueueTrainStep(vec({1, 2, 3, 4}), Tensor::zeros({2}, DType::I64)),
      Contains("input 'labels'"));
}

TEST_CASE("The executor refuses a plan the model does not fit", "[cuda]") {
  cuda::CudaProgram cudaPlan = plan();
  std::vector<std::pair<std::string, Tensor>> wrongShape = {
      {"w", Tensor::zeros({5})}};
  CHECK_THROWS_WITH(cuda::Executor(cudaPlan, cudaPlan.source, 0, wrongShape),
                    Contains("parameter 'w' has shape [5]") &&
                        Contains("compiled for [4]"));
  CHECK_THROWS_WITH(cuda::Executor(cudaPlan, cudaPlan.source, 0, {}),
                    Contains("needs parameter 'w'"));
  CHECK_THROWS_WITH(
      cuda::Executor(cudaPlan, "not an image", 0, {{"w", Tensor::zeros({4})}}),
      Contains("CUDA_ERROR_INVALID_IMAGE"));
}

TEST_CASE("A replayed train step costs eight driver calls and no launches",
          "[cuda]") {
  Tensor w = vec({0, 0, 0, 0});
  Program p = onFakeGpu(w);
  Tensor x = vec({1, 0, 0, 0});
  Tensor labels = Tensor::zeros({1}, DType::I64);
  p.enqueueTrainStep(x, labels); // captures input set 0's graph
  p.enqueueTrainStep(x, labels); // ... and set 1's
  const char *watched[] = {"",
                           "cuLaunchKernel",
                           "cuModuleGetFunction",
                           "cuStreamBeginCapture_v2",
                           "cuGraphLaunch",
                           "cuMemcpyHtoDAsync_v2",
                           "cuMemcpyDtoHAsync_v2"};
  std::vector<long long> before;
  for (const char *name : watched)
    before.push_back(driverCalls(name));
  constexpr int kSteps = 10;
  // Once with the caller's batches, once with batches written in place first
  // as kiln train's loader does: the same calls, trainInputs() waiting for the
  // set's last upload instead of the enqueue.
  const bool inPlace = GENERATE(false, true);
  for (int k = 0; k < kSteps; ++k) {
    if (inPlace) {
      Program::TrainInputs batch = p.trainInputs();
      std::memcpy(batch.images.rawData(), x.rawData(), x.nbytes());
      std::memcpy(batch.labels.rawData(), labels.rawData(), labels.nbytes());
      p.enqueueTrainStep(batch.images, batch.labels);
    } else {
      p.enqueueTrainStep(x, labels);
    }
  }
  std::vector<long long> per;
  for (size_t i = 0; i < std::size(watched); ++i)
    per.push_back(driverCalls(watched[i]) - before[i]);
  // Per step: wait for the set's last upload, order its copy after its last
  // run, one upload of the packed inputs and step, record it, make the compute
  // stream wait for it, replay the graph, record the run, copy the loss back.
  CHECK(per[0] == 8 * kSteps);
  CHECK(per[1] == 0); // launches are in the graphs
  CHECK(per[2] == 0);
  CHECK(per[3] == 0);
  CHECK(per[4] == kSteps);
  CHECK(per[5] == kSteps); // x, labels and the step in one transfer
  CHECK(per[6] == kSteps);
  auto [sum, count] = p.takeLosses();
  CHECK(count == kSteps + 2);
  CHECK(sum == 78.0); // step k: sum(w + x) = (k - 1) + 1, so 1 + ... + 12
}

TEST_CASE("A batch written into trainInputs() trains without being copied",
          "[cuda]") {
  Tensor w = vec({0, 0, 0, 0});
  Program p = onFakeGpu(w);
  // The two input sets' staging memory, in turn.
  Program::TrainInputs first = p.trainInputs();
  CHECK(p.trainInputs().images.rawData() == first.images.rawData());
  CHECK(first.images.shape() == std::vector<int64_t>{4});
  CHECK(first.labels.dtype() == DType::I64);
  double expected = 0.0;
  float sumW = 0.0f;
  const void *previous = nullptr;
  for (int k = 1; k <= 4; ++k) {
    Program::TrainInputs batch = p.trainInputs();
    CHECK(batch.images.rawData() != previous);
    previous = batch.images.rawData();
    float *x = batch.images.data<float>();
    x[0] = float(k), x[1] = 0, x[2] = 0, x[3] = 0;
    batch.labels.data<int64_t>()[0] = 0;
    p.enqueueTrainStep(batch.images, batch.labels);
    expected += sumW + k;
    sumW += k;
  }
  // Mixed with a batch of the caller's own, which is copied as before.
  p.enqueueTrainStep(vec({5, 0, 0, 0}), Tensor::zeros({1}, DType::I64));
  expected += sumW + 5;
  auto [sum, count] = p.takeLosses();
  CHECK(count == 5);
  CHECK(sum == expected);
  CHECK(p.namedParameters()[0].second.data<float>()[0] == 15.0f);
}
