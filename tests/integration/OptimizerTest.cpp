// The compiled train_step applies PyTorch's SGD rule: each step is checked
// against the reference kernel (kiln::ref::sgdStep) fed the gradients the
// compiled loss_grad computes at the same parameters.
#include "kiln/Compiler.h"
#include "kiln/kernels/Optim.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace kiln;

namespace {

void checkSgdRule(const SgdOptions &sgd) {
  manualSeed(0);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.sgd = sgd;
  spec.gradient = true;
  Program program = compile(model, spec);

  // The reference copy of the parameters and its momentum buffers.
  std::vector<Tensor> reference, buffers;
  for (auto &[name, value] : model.namedParameters()) {
    reference.push_back(value.clone());
    buffers.push_back(Tensor::zeros(value.shape()));
  }
  Generator gen(42);
  Tensor labels = Tensor::empty({4}, DType::I64);
  for (int step = 0; step < 4; ++step) {
    Tensor images = normalTensor({4, 1, 32, 32}, gen);
    for (int i = 0; i < 4; ++i)
      labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
    // Gradients at the current parameters, before train_step changes them.
    std::vector<Tensor> grads;
    const std::vector<Tensor> &outputs = program.run("loss_grad", {images, labels});
    for (size_t k = 1; k < outputs.size(); ++k)
      grads.push_back(outputs[k].clone());
    program.trainStep(images, labels);
    for (size_t k = 0; k < reference.size(); ++k) {
      ref::sgdStep(reference[k].data<float>(), grads[k].data<float>(),
                   buffers[k].data<float>(), reference[k].numel(),
                   static_cast<float>(sgd.lr), static_cast<float>(sgd.momentum),
                   static_cast<float>(sgd.dampening),
                   static_cast<float>(sgd.weightDecay), sgd.nesterov,
                   /*firstStep=*/step == 0);
    }
    auto params = model.namedParameters();
    for (size_t k = 0; k < reference.size(); ++k) {
      const std::string &name = params[k].first;
      const float *got = params[k].second.data<float>();
      const float *want = reference[k].data<float>();
      double worst = 0;
      for (int64_t i = 0; i < reference[k].numel(); ++i)
        worst = std::max(worst, std::abs(double(got[i]) - want[i]) /
                                    (std::abs(double(want[i])) + 1e-3));
      INFO("step " << step << ", " << name);
      // Both sides round the same float32 operations; fused multiply-adds in
      // the compiled update leave a few ulps.
      CHECK(worst < 1e-5);
    }
  }
}

} // namespace

TEST_CASE("train_step applies SGD with momentum dampening and weight decay") {
  checkSgdRule({/*lr=*/0.05, /*momentum=*/0.9, /*dampening=*/0.1,
                /*weightDecay=*/0.01, /*nesterov=*/false});
}

TEST_CASE("train_step applies SGD with Nesterov momentum and weight decay") {
  checkSgdRule({0.05, 0.9, 0.0, 0.001, true});
}

TEST_CASE("train_step applies plain SGD") { checkSgdRule({0.1, 0.0, 0.0, 0.0, false}); }
