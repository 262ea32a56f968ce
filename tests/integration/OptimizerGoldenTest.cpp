// train_step against PyTorch 1.13's optimizers: two parameters, three steps
// with fixed gradients, every option set of tests/golden/optimizers.safetensors
// (made by make_optimizer_golden.py, whose hyper-parameters are repeated here).
#include "kiln/Compiler.h"
#include "kiln/runtime/Safetensors.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>

using namespace kiln;

namespace {

std::map<std::string, Tensor> readGolden() {
  std::map<std::string, Tensor> golden;
  for (auto &[name, tensor] :
       readSafetensors(std::string(KILN_SOURCE_DIR) +
                       "/tests/golden/optimizers.safetensors"))
    golden[name] = tensor;
  return golden;
}

/// Runs three steps of `spec`'s optimizer from the golden parameters and
/// compares the parameters after each with PyTorch's `<label>.<step>.*`.
/// The loss sum(a * ga) + sum(b * gb) has exactly the gradients ga and gb,
/// which the golden file supplies per step.
void checkAgainstTorch(const std::string &label, const CompileSpec &spec,
                       const std::vector<std::string> &states) {
  std::map<std::string, Tensor> golden = readGolden();
  Graph graph;
  Var a = graph.param("a", golden.at("a").clone());
  Var b = graph.param("b", golden.at("b").clone());
  Var loss = sum(a * graph.input("ga", {3, 4}), {0, 1}) +
             sum(b * graph.input("gb", {5}), {0});
  Program program = compileTrainStep(graph, loss, spec);

  std::vector<std::string> stateNames;
  for (const auto &[name, tensor] : program.namedState())
    stateNames.push_back(name);
  std::vector<std::string> expected;
  for (const std::string &state : states) {
    expected.push_back(state + ".a");
    expected.push_back(state + ".b");
  }
  CHECK(stateNames == expected);

  for (int step = 0; step < 3; ++step) {
    std::map<std::string, Tensor> grads = {
        {"ga", golden.at("grad" + std::to_string(step) + ".a")},
        {"gb", golden.at("grad" + std::to_string(step) + ".b")}};
    std::vector<Tensor> inputs;
    for (const ArgSpec &arg : program.entry("train_step").args) {
      if (arg.role == ArgRole::Input)
        inputs.push_back(grads.at(arg.name));
    }
    program.setStepsTaken(step);
    program.run("train_step", inputs);
    for (const auto &[name, got] : program.namedParameters()) {
      const Tensor &want =
          golden.at(label + "." + std::to_string(step) + "." + name);
      REQUIRE(got.shape() == want.shape());
      // Both sides round the same float32 operations, up to fused
      // multiply-adds and the order of a division; the parameters stay
      // above 0.4 in magnitude, so 1e-6 relative is a few ulps.
      double worst = 0;
      for (int64_t i = 0; i < want.numel(); ++i) {
        double w = want.data<float>()[i], g = got.data<float>()[i];
        worst = std::max(worst, std::abs(g - w) / std::abs(w));
      }
      INFO(label << " step " << step << " parameter " << name);
      CHECK(worst <= 1e-6);
    }
  }
}

CompileSpec specFor(OptimizerKind kind) {
  CompileSpec spec;
  spec.optimizer = kind;
  return spec;
}

} // namespace

TEST_CASE("train_step matches torch.optim.SGD without momentum") {
  CompileSpec spec = specFor(OptimizerKind::Sgd);
  spec.sgd = {/*lr=*/0.1, /*momentum=*/0.0, /*dampening=*/0.0,
              /*weightDecay=*/0.01, /*nesterov=*/false};
  checkAgainstTorch("sgd", spec, {"momentum_buffer"});
}

TEST_CASE("train_step matches torch.optim.SGD with momentum and dampening") {
  CompileSpec spec = specFor(OptimizerKind::Sgd);
  spec.sgd = {/*lr=*/0.1, /*momentum=*/0.9, /*dampening=*/0.1,
              /*weightDecay=*/0.01, /*nesterov=*/false};
  checkAgainstTorch("sgd_momentum", spec, {"momentum_buffer"});
}

TEST_CASE("train_step matches torch.optim.SGD with Nesterov momentum") {
  CompileSpec spec = specFor(OptimizerKind::Sgd);
  spec.sgd = {0.1, 0.9, 0.0, 0.01, true};
  checkAgainstTorch("sgd_nesterov", spec, {"momentum_buffer"});
}

TEST_CASE("train_step matches torch.optim.Adam") {
  CompileSpec spec = specFor(OptimizerKind::Adam);
  spec.adam.lr = 0.05;
  checkAgainstTorch("adam", spec, {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
}

TEST_CASE("train_step matches torch.optim.Adam with AMSGrad and weight decay") {
  CompileSpec spec = specFor(OptimizerKind::Adam);
  spec.adam = {/*lr=*/0.05,         /*beta1=*/0.8,
               /*beta2=*/0.9,       /*eps=*/1e-8,
               /*weightDecay=*/0.1, /*amsgrad=*/true};
  checkAgainstTorch("adam_amsgrad", spec,
                    {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
}

TEST_CASE(
    "train_step matches torch.optim.Adam with weight decay, betas and eps") {
  CompileSpec spec = specFor(OptimizerKind::Adam);
  spec.adam = {/*lr=*/0.05,          /*beta1=*/0.85,
               /*beta2=*/0.95,       /*eps=*/1e-3,
               /*weightDecay=*/0.05, /*amsgrad=*/false};
  checkAgainstTorch("adam_weight_decay", spec,
                    {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
}

TEST_CASE("train_step matches torch.optim.RMSprop") {
  CompileSpec spec = specFor(OptimizerKind::RmsProp);
  spec.rmsprop.lr = 0.01;
  checkAgainstTorch("rmsprop", spec,
                    {"square_avg", "momentum_buffer", "grad_avg"});
}

TEST_CASE("train_step matches torch.optim.RMSprop centered with momentum") {
  CompileSpec spec = specFor(OptimizerKind::RmsProp);
  spec.rmsprop = {
      /*lr=*/0.01,         /*alpha=*/0.9,    /*eps=*/1e-8,
      /*weightDecay=*/0.1, /*momentum=*/0.5, /*centered=*/true};
  checkAgainstTorch("rmsprop_centered", spec,
                    {"square_avg", "momentum_buffer", "grad_avg"});
}

TEST_CASE("train_step matches torch.optim.RMSprop with momentum") {
  CompileSpec spec = specFor(OptimizerKind::RmsProp);
  spec.rmsprop = {
      /*lr=*/0.01,         /*alpha=*/0.95,   /*eps=*/1e-3,
      /*weightDecay=*/0.0, /*momentum=*/0.9, /*centered=*/false};
  checkAgainstTorch("rmsprop_momentum", spec,
                    {"square_avg", "momentum_buffer", "grad_avg"});
}

TEST_CASE("train_step matches torch.optim.RMSprop centered without momentum") {
  CompileSpec spec = specFor(OptimizerKind::RmsProp);
  spec.rmsprop.lr = 0.01;
  spec.rmsprop.centered = true;
  checkAgainstTorch("rmsprop_centered_plain", spec,
                    {"square_avg", "momentum_buffer", "grad_avg"});
}
