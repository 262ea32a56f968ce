// kiln-fuse changes no result: the same batches through fused and unfused
// programs give the same logits, losses and parameters.
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("Fused and unfused LeNet programs agree step by step") {
  std::vector<Tensor> finalParams[2];
  std::vector<double> losses[2];
  Tensor logits[2];
  for (int fused = 0; fused < 2; ++fused) {
    manualSeed(3);
    models::LeNet model;
    CompileSpec spec;
    spec.inputShape = {4, 1, 32, 32};
    spec.sgd.lr = 0.01;
    spec.sgd.momentum = 0.9;
    spec.predictBatch = 4;
    spec.fuse = fused == 1;
    Program program = compile(model, spec);
    Generator gen(17);
    Tensor labels = Tensor::empty({4}, DType::I64);
    for (int step = 0; step < 5; ++step) {
      Tensor images = normalTensor({4, 1, 32, 32}, gen);
      for (int i = 0; i < 4; ++i)
        labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
      losses[fused].push_back(program.trainStep(images, labels));
    }
    logits[fused] = program.predict(normalTensor({4, 1, 32, 32}, gen)).clone();
    for (auto &[name, value] : model.namedParameters())
      finalParams[fused].push_back(value.clone());
  }
  // Same arithmetic in the same order per element: equal up to rounding.
  for (size_t i = 0; i < losses[0].size(); ++i)
    CHECK(losses[1][i] == Approx(losses[0][i]).epsilon(1e-6));
  CHECK(test::difference(logits[1], logits[0]).within(1e-6, 1e-7));
  for (size_t k = 0; k < finalParams[0].size(); ++k) {
    INFO("parameter " << k);
    CHECK(test::difference(finalParams[1][k], finalParams[0][k]).within(1e-6, 1e-7));
  }
}
