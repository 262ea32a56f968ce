// Cross-entropy and squared error with each reduction (mean, sum, none)
// against PyTorch's CrossEntropyLoss and MSELoss: values and gradients
// (tests/golden/losses.safetensors, made by make_loss_golden.py), and the
// reduction chosen through CompileSpec.
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Ops.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <numeric>

using namespace kiln;

namespace {

using Golden = std::map<std::string, Tensor>;

Golden readGolden(const std::string &file) {
  Golden golden;
  for (auto &[name, tensor] :
       readSafetensors(std::string(KILN_SOURCE_DIR) + "/tests/golden/" + file))
    golden[name] = tensor;
  return golden;
}

// float32 on both sides over a handful of terms: the two differ by a few
// ulps (~1e-7 relative). 1e-5 of the tensor's largest magnitude still fails
// a reduction scaled wrongly (1/N), a sign, or a cotangent sent to the wrong
// sample.
constexpr double kRtol = 1e-5;

void checkClose(const std::string &what, const Tensor &got,
                const Tensor &want) {
  INFO(what << ": got shape " << shapeToString(got.shape()) << ", want "
            << shapeToString(want.shape()));
  REQUIRE(got.shape() == want.shape());
  test::Difference d = test::difference(got, want);
  INFO("max |kiln - torch| = " << d.worst << ", max |torch| = " << d.scale);
  CHECK(d.scale > 0);
  CHECK(d.within(kRtol, 0));
}

/// The entry's Input arguments, in call order, taken from the golden file by
/// name.
std::vector<Tensor> inputsFor(const Program &program, const std::string &entry,
                              const Golden &golden) {
  std::vector<Tensor> inputs;
  for (const ArgSpec &arg : program.entry(entry).args)
    if (arg.role == ArgRole::Input)
      inputs.push_back(golden.at(arg.name));
  return inputs;
}

const char *reductionName(Reduction reduction) {
  switch (reduction) {
  case Reduction::Mean:
    return "mean";
  case Reduction::Sum:
    return "sum";
  case Reduction::None:
    return "none";
  }
  return "?";
}

/// Traces a loss into `graph`: golden tensors it differentiates are
/// parameters (named as the golden gradients: grad_<param>), the rest inputs.
using BuildLoss = std::function<Var(Graph &, const Golden &, Reduction)>;

/// Compares the compiled loss `prefix`.<reduction>.loss with PyTorch's, then
/// the gradient of each parameter: of the loss itself for mean and sum, of
/// sum(loss * <prefix>.weights) for none, as the generator computes them.
void checkAgainstTorch(const std::string &prefix, Reduction reduction,
                       const BuildLoss &build) {
  const Golden golden = readGolden("losses.safetensors");
  const std::string name = prefix + "." + reductionName(reduction);
  {
    Graph graph;
    Var loss = build(graph, golden, reduction);
    Program program = compileFunction(graph, loss, /*gradient=*/false);
    checkClose(name + ".loss",
               program.run("f", inputsFor(program, "f", golden))[0],
               golden.at(name + ".loss"));
  }
  Graph graph;
  Var objective = build(graph, golden, reduction);
  if (reduction == Reduction::None) {
    std::vector<int64_t> axes(objective.dim());
    std::iota(axes.begin(), axes.end(), 0);
    objective = sum(
        objective * graph.input(prefix + ".weights", objective.shape()), axes);
  }
  Program program = compileFunction(graph, objective, /*gradient=*/true);
  const std::vector<Tensor> &outputs =
      program.run("f_grad", inputsFor(program, "f", golden));
  const auto &params = program.namedParameters();
  REQUIRE(outputs.size() == params.size() + 1);
  for (size_t i = 0; i < params.size(); ++i)
    checkClose(name + ".grad_" + params[i].first, outputs[i + 1],
               golden.at(name + ".grad_" + params[i].first));
}

Var crossEntropyLoss(Graph &graph, const Golden &golden, Reduction reduction) {
  Var logits = graph.param("logits", golden.at("ce.logits").clone());
  return crossEntropy(logits, graph.input("ce.labels", {5}, DType::I64),
                      reduction);
}

Var mseLossOf(Graph &graph, const Golden &golden, Reduction reduction) {
  Var input = graph.param("input", golden.at("mse.input").clone());
  Var target = graph.param("target", golden.at("mse.target").clone());
  return mseLoss(input, target, reduction);
}

} // namespace

TEST_CASE("crossEntropy matches torch CrossEntropyLoss for each reduction") {
  for (Reduction reduction :
       {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction " << reductionName(reduction));
    checkAgainstTorch("ce", reduction, crossEntropyLoss);
  }
}

TEST_CASE("mseLoss matches torch MSELoss for each reduction") {
  for (Reduction reduction :
       {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction " << reductionName(reduction));
    checkAgainstTorch("mse", reduction, mseLossOf);
  }
}

TEST_CASE("CompileSpec lossReduction Sum gives the batch's total loss") {
  // The LeNet golden batch has 4 samples: summed, the loss and every
  // gradient are 4 times PyTorch's mean ones.
  const Golden golden = readGolden("lenet1_batch4.safetensors");
  manualSeed(0);
  models::LeNet model;
  for (auto &[name, tensor] : model.namedParameters())
    tensor.copyFrom(golden.at(name));
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.train = false;
  spec.gradient = true;
  spec.lossReduction = Reduction::Sum;
  Program program = compile(model, spec);
  const std::vector<Tensor> &outputs =
      program.run("loss_grad", {golden.at("input"), golden.at("labels")});
  const auto params = model.namedParameters();
  REQUIRE(outputs.size() == params.size() + 1);
  // LeNet's depth: float32 through another summation order than PyTorch's,
  // the tolerance GoldenTest.cpp states for the same network.
  auto checkTimesFour = [](const std::string &what, const Tensor &got,
                           const Tensor &mean) {
    INFO(what);
    test::Difference d = test::difference(got, mean.to(DType::F64) * 4.0);
    INFO("max |kiln - 4 torch| = " << d.worst
                                   << ", max |4 torch| = " << d.scale);
    CHECK(d.within(1e-4, 1e-6));
  };
  checkTimesFour("loss", outputs[0], golden.at("loss"));
  for (size_t i = 0; i < params.size(); ++i)
    checkTimesFour("grad." + params[i].first, outputs[i + 1],
                   golden.at("grad." + params[i].first));
}

TEST_CASE("CompileSpec lossReduction None is refused with a way out") {
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.lossReduction = Reduction::None;
  CHECK_THROWS_WITH(compile(model, spec),
                    Catch::Contains("lossReduction is None") &&
                        Catch::Contains("Reduction::Sum"));
  spec.train = false;
  spec.predictBatch = 4; // predict alone has no loss: nothing to refuse
  CHECK_NOTHROW(compile(model, spec));
}
