// The shape of LeNet's CUDA plan: which kernels, in which order, with which
// geometry, and an arena that reuses memory.
#include "kiln/Cuda.h"
#include "kiln/models/LeNet.h"

#include <catch2/catch.hpp>

#include <set>

using namespace kiln;

namespace {

const cuda::KernelLaunch &launchOf(const cuda::CudaEntry &entry,
                                   const std::string &prefix, int nth = 0) {
  for (const cuda::KernelLaunch &launch : entry.launches) {
    if (launch.kernel.rfind(prefix, 0) == 0 && nth-- == 0)
      return launch;
  }
  FAIL("no launch of " << prefix);
  throw;
}

} // namespace

TEST_CASE("LeNet's CUDA train step: kernels, geometry and arena") {
  auto model = models::makeModel("lenet");
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.sgd.momentum = 0.9;
  cuda::CudaProgram plan = generateCuda(*model, spec);
  const cuda::CudaEntry &step = plan.entry("train_step");

  // Arguments as the CPU entry point has them, minus the arena: 10
  // parameters, 10 momentum buffers, the step, images, labels, the loss.
  REQUIRE(step.args.size() == 24);
  CHECK(step.args[20].role == ArgRole::Step);
  CHECK(step.args[22].name == "labels");
  CHECK(step.args[22].bound == 10);
  CHECK(step.args[23].role == ArgRole::Output);
  CHECK(step.args[23].shape.empty());

  // Fused forward convolutions, one thread per pooled value.
  const cuda::KernelLaunch &conv1 = step.launches.front();
  CHECK(conv1.kernel == "conv2d_relu_pool_0");
  CHECK(conv1.block == cuda::Dim3{256, 1, 1});
  CHECK(conv1.grid == cuda::Dim3{(4 * 6 * 14 * 14 + 255) / 256, 1, 1});
  // Its input and weights are arguments 21 and 0; its outputs in the arena.
  CHECK(std::count(conv1.args.begin(), conv1.args.end(),
                   cuda::KernelArg::argument(21)) == 1);
  CHECK(std::count(conv1.args.begin(), conv1.args.end(),
                   cuda::KernelArg::argument(0)) == 1);
  // The fused backward pass: the filter gradients reduce over the pooling
  // windows, a block per weight, its size following the reduction's length
  // (4*5*5 = 100 windows for conv2, 4*14*14 = 784 for conv1).
  const cuda::KernelLaunch &filter2 =
      launchOf(step, "conv2d_relu_pool_backward_filter");
  const cuda::KernelLaunch &filter1 =
      launchOf(step, "conv2d_relu_pool_backward_filter", 1);
  CHECK(filter2.grid.x == 16 * 6 * 5 * 5);
  CHECK(filter2.block.x == 32);
  CHECK(filter1.grid.x == 6 * 1 * 5 * 5);
  CHECK(filter1.block.x == 256);
  // The first convolution's input gradient is never needed, so there is
  // one input-gradient kernel, for conv2.
  CHECK(std::count_if(step.launches.begin(), step.launches.end(),
                      [](const cuda::KernelLaunch &launch) {
                        return launch.kernel.rfind(
                                   "conv2d_relu_pool_backward_input", 0) == 0;
                      }) == 1);
  // The linear layers' forward passes carry bias and relu; backward, the
  // relu mask and the bias gradient are one kernel, a block per column of
  // 4 rows. fc3 has no relu: its bias gradient is a plain sum.
  CHECK(launchOf(step, "linear_bias_relu_warp").grid.x == 60);
  CHECK(launchOf(step, "bias_relu_backward").grid.x == 1);
  CHECK(launchOf(step, "sum").block.x == 32);
  // The loss is written straight into the output argument.
  const cuda::KernelLaunch &loss = launchOf(step, "softmax_cross_entropy_5");
  CHECK(loss.grid.x == 1);
  CHECK(loss.args.back() == cuda::KernelArg::argument(23));
  // One update kernel for all ten parameters, last, writing in place.
  const cuda::KernelLaunch &update = step.launches.back();
  CHECK(update.kernel.rfind("sgd_update_", 0) == 0);
  CHECK(update.args.size() == 31);
  CHECK(update.args[0] == cuda::KernelArg::argument(0));
  CHECK(update.args[2] == cuda::KernelArg::argument(10));
  CHECK(update.grid.x == (61706 + 255) / 256);
  CHECK(step.launches.size() == 22);

  std::set<uint32_t> blockSizes;
  for (const cuda::KernelLaunch &launch : step.launches)
    blockSizes.insert(launch.block.x);
  CHECK(blockSizes.size() >= 5);

  // Buffers share the arena by liveness as on the CPU (kiln-plan-memory):
  // within 5% of the CPU arena, whose buffers differ a little (im2col
  // scratch there, none here). At the update all gradients are live, 246824
  // bytes, with the weights of the linear layers the largest. The CPU
  // program compared is fused alike.
  Program cpu = compile(*model, spec);
  INFO("CUDA arena " << step.arenaBytes << " bytes, CPU arena "
                     << cpu.arenaBytes("train_step"));
  CHECK(step.arenaBytes >= 246824);
  CHECK(step.arenaBytes <= cpu.arenaBytes("train_step") * 105 / 100);
}

TEST_CASE("Predict at batch 256 tiles the first linear layer") {
  auto model = models::makeModel("lenet");
  CompileSpec spec;
  spec.inputShape = {256, 1, 32, 32};
  spec.train = false;
  spec.predictBatch = 256;
  cuda::CudaProgram plan = generateCuda(*model, spec);
  const cuda::CudaEntry &predict = plan.entry("predict");
  const cuda::KernelLaunch &fc1 = launchOf(predict, "linear_bias_relu_tiled");
  CHECK(fc1.grid == cuda::Dim3{(120 + 15) / 16, 256 / 16, 1});
  CHECK(fc1.block.x == 256);
  // Without training, the fused convolutions write no activation: each
  // launch has input, weight, bias and the pooled output only.
  CHECK(predict.launches.front().args.size() == 4);
  // The logits go straight to the output.
  CHECK(predict.launches.back().args.back() ==
        cuda::KernelArg::argument(predict.args.size() - 1));
}
