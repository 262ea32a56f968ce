// kiln-fuse changes no result: the same batches through fused and unfused
// programs give the same logits, losses, gradients and parameters.
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

using namespace kiln;

namespace {

// What one program computed from the same seed and batches.
struct Run {
  std::vector<Tensor> gradients; // loss_grad's outputs: loss, then gradients
  std::vector<double> losses;    // train_step's, step by step
  Tensor logits;
  std::vector<Tensor> finalParams;
};

Run runLeNet(int64_t channels, int64_t batch, bool fuse) {
  manualSeed(3);
  models::LeNet model(models::LeNetOptions{channels, 1, 10});
  CompileSpec spec;
  spec.inputShape = {batch, channels, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = batch;
  spec.gradient = true;
  spec.fuse = fuse;
  Program program = compile(model, spec);
  Generator gen(17);
  Tensor labels = Tensor::empty({batch}, DType::I64);
  auto nextBatch = [&] {
    for (int64_t i = 0; i < batch; ++i)
      labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
    return normalTensor(spec.inputShape, gen);
  };
  Run run;
  Tensor images = nextBatch();
  for (const Tensor &t : program.run("loss_grad", {images, labels}))
    run.gradients.push_back(t.clone());
  for (int step = 0; step < 5; ++step) {
    images = nextBatch();
    run.losses.push_back(program.trainStep(images, labels));
  }
  run.logits = program.predict(nextBatch()).clone();
  for (auto &[name, value] : model.namedParameters())
    run.finalParams.push_back(value.clone());
  return run;
}

} // namespace

TEST_CASE("kiln-fuse fuses LeNet's layers and their gradients") {
  manualSeed(3);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  std::string fused = emitProgram(model, spec, Stage::Kiln);
  // Both convolution blocks, forward and backward; the three linear layers;
  // the two relu gradients with their bias sums.
  auto count = [&](const std::string &what) {
    int64_t n = 0;
    for (size_t at = fused.find(what); at != std::string::npos;
         at = fused.find(what, at + 1))
      ++n;
    return n;
  };
  CHECK(count("kiln.conv2d_relu_pool %") == 2);
  CHECK(count("kiln.conv2d_relu_pool_backward %") == 2);
  CHECK(count("kiln.linear %") == 3);
  CHECK(count("kiln.bias_relu_backward %") == 2);
  for (const char *unfused : {"kiln.conv2d %", "kiln.max_pool2d_backward %",
                              "kiln.relu_backward %", "kiln.conv2d_backward",
                              "kiln.add %", "kiln.relu %"})
    CHECK(count(unfused) == 0);
}

TEST_CASE("Fused and unfused LeNet programs agree step by step") {
  // batch 4 as the blitz trains; 3 channels and batch 9 for CIFAR-10's LeNet
  // with a batch that is no multiple of a vector width.
  auto [channels, batch] = GENERATE(std::pair<int64_t, int64_t>{1, 4},
                                    std::pair<int64_t, int64_t>{3, 9});
  INFO("channels " << channels << ", batch " << batch);
  Run unfused = runLeNet(channels, batch, false);
  Run fused = runLeNet(channels, batch, true);
  // The fused ops do the unfused arithmetic in the same order, except that
  // the convolutions' bias gradients are summed image by image: float32
  // rounding of sums of up to ~10^4 terms (seen: 5e-7 of the largest
  // element), well below 1e-5. A misrouted or unmasked gradient element is
  // off by its whole size.
  constexpr double rtol = 1e-5, atol = 1e-7;
  REQUIRE(fused.gradients.size() == unfused.gradients.size());
  for (size_t k = 0; k < unfused.gradients.size(); ++k) {
    INFO("loss_grad output " << k);
    test::Difference d =
        test::difference(fused.gradients[k], unfused.gradients[k]);
    INFO("max difference " << d.worst << " of max " << d.scale);
    CHECK(d.within(rtol, atol));
  }
  for (size_t i = 0; i < unfused.losses.size(); ++i)
    CHECK(fused.losses[i] == Approx(unfused.losses[i]).epsilon(rtol));
  CHECK(test::difference(fused.logits, unfused.logits).within(rtol, atol));
  for (size_t k = 0; k < unfused.finalParams.size(); ++k) {
    INFO("parameter " << k);
    CHECK(test::difference(fused.finalParams[k], unfused.finalParams[k])
              .within(rtol, atol));
  }
}
