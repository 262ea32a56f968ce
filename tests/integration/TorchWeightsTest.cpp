// Weights saved by torch.save(model.state_dict()) load without Python and
// give PyTorch's predictions (tests/golden/pt, made by make_pt_fixture.py).
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Npy.h"

#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("LeNet with PyTorch's .pt weights predicts PyTorch's logits") {
  const std::string dir = std::string(KILN_SOURCE_DIR) + "/tests/golden/pt/";
  manualSeed(11); // Different initial weights: the file must replace them all.
  models::LeNet model;
  loadParameters(dir + "lenet1.pt", model.namedParameters());
  CompileSpec spec;
  spec.inputShape = {2, 1, 32, 32};
  spec.predictBatch = 2;
  spec.train = false;
  Program program = compile(model, spec);
  Tensor input = readNpy(dir + "lenet1_input2.npy");
  Tensor want = readNpy(dir + "lenet1_logits2.npy");
  test::Difference d = test::difference(program.predict(input), want);
  INFO("max |kiln - torch| = " << d.worst << ", max |torch| = " << d.scale);
  // float32 with another summation order: a few ulps through LeNet's depth.
  CHECK(d.within(1e-4, 1e-6));
}

TEST_CASE("A .pt file of another model is refused naming the tensor") {
  const std::string dir = std::string(KILN_SOURCE_DIR) + "/tests/golden/pt/";
  models::LeNet cifar({/*inChannels=*/3, /*width=*/1, /*numClasses=*/10});
  REQUIRE_THROWS_WITH(loadParameters(dir + "lenet1.pt", cifar.namedParameters()),
                      Catch::Contains("conv1.weight") &&
                          Catch::Contains("[6, 3, 5, 5]"));
}
