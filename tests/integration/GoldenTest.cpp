// LeNet (1 channel, batch 4) against PyTorch: logits, loss, every parameter
// gradient, and three SGD-with-momentum steps (tests/golden/README.md).
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>

#include <map>

using namespace kiln;

namespace {

std::map<std::string, Tensor> readGolden() {
  std::map<std::string, Tensor> golden;
  for (auto &[name, tensor] : readSafetensors(
           std::string(KILN_SOURCE_DIR) + "/tests/golden/lenet1_batch4.safetensors"))
    golden[name] = tensor;
  return golden;
}

/// Copies PyTorch's initial parameters into the model, by PyTorch name.
void loadParameters(nn::Module &model, const std::map<std::string, Tensor> &golden) {
  for (auto &[name, tensor] : model.namedParameters()) {
    INFO(name);
    REQUIRE(golden.count(name) == 1);
    REQUIRE(tensor.shape() == golden.at(name).shape());
    tensor.copyFrom(golden.at(name));
  }
}

// float32 through a different summation order than PyTorch's (im2col + BLAS):
// the two agree to a few ulps per op, ~1e-6 relative after LeNet's depth;
// 1e-4 of the tensor's largest magnitude leaves room for that and still fails
// a wrong layout, a missed ReLU or a mis-scaled gradient.
constexpr double kRtol = 1e-4, kAtol = 1e-6;

void checkClose(const std::string &what, const Tensor &got, const Tensor &want) {
  INFO(what << ": got shape " << shapeToString(got.shape()) << ", want "
            << shapeToString(want.shape()));
  REQUIRE(got.numel() == want.numel());
  test::Difference d = test::difference(got, want);
  INFO("max |kiln - torch| = " << d.worst << ", max |torch| = " << d.scale);
  CHECK(d.within(kRtol, kAtol));
}

} // namespace

TEST_CASE("LeNet logits loss and gradients match PyTorch") {
  auto golden = readGolden();
  manualSeed(0);
  models::LeNet model;
  loadParameters(model, golden);
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.predictBatch = 4;
  spec.gradient = true;
  spec.train = false;
  Program program = compile(model, spec);

  checkClose("logits", program.predict(golden.at("input")), golden.at("logits"));

  const std::vector<Tensor> &outputs =
      program.run("loss_grad", {golden.at("input"), golden.at("labels")});
  const auto params = model.namedParameters();
  REQUIRE(outputs.size() == params.size() + 1);
  checkClose("loss", outputs[0], golden.at("loss"));
  for (size_t i = 0; i < params.size(); ++i)
    checkClose("grad." + params[i].first, outputs[i + 1],
               golden.at("grad." + params[i].first));
}

TEST_CASE("LeNet SGD with momentum matches PyTorch over 3 steps") {
  auto golden = readGolden();
  manualSeed(0);
  models::LeNet model;
  loadParameters(model, golden);
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.train = true;
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  Program program = compile(model, spec);

  Tensor losses = Tensor::empty({3}, DType::F64);
  for (int64_t step = 0; step < 3; ++step)
    losses.data<double>()[step] =
        program.trainStep(golden.at("input"), golden.at("labels"));
  checkClose("sgd.losses", losses, golden.at("sgd.losses"));
  for (auto &[name, tensor] : model.namedParameters())
    checkClose("sgd." + name, tensor, golden.at("sgd." + name));
}
