// The generated CUDA kernels and their plan compute what the CPU JIT
// computes: the plan's source compiled as host C++ (CudaShim.h) and its
// launches run in order on the CPU give the same logits, losses, updated
// parameters and optimizer state as kiln::compile, to 1e-4 relative per
// tensor. The tolerance covers summation order: block reductions and warp
// splits add in a different order than the CPU's loops (the largest
// difference measured is 4.2e-7 of a tensor's largest value, 1.0e-6 with
// Adam and RMSProp).
//
// Adam and RMSProp divide each gradient element by its own running
// magnitude, so an element that is zero but for rounding (|g| ~ 1e-9) turns
// into an update of about lr either way. Their tests use eps = 1e-3, which
// keeps such elements linear without changing the arithmetic tested.
#include "HostRunner.h"

#include "../integration/Compare.h"
#include "kiln/Cuda.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Nvrtc.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

using namespace kiln;

namespace {

constexpr double kRelative = 1e-4, kAbsolute = 1e-7;

void checkClose(const Tensor &got, const Tensor &want,
                const std::string &what) {
  test::Difference d = test::difference(got, want);
  INFO(what << ": max |difference| " << d.worst << ", max |value| " << d.scale);
  CHECK(d.within(kRelative, kAbsolute));
}

std::vector<std::pair<std::string, Tensor>>
cloned(const std::vector<std::pair<std::string, Tensor>> &named) {
  std::vector<std::pair<std::string, Tensor>> copies;
  for (const auto &[name, value] : named)
    copies.emplace_back(name, value.clone());
  return copies;
}

Tensor randomLabels(int64_t count, int64_t classes, Generator &gen) {
  Tensor labels = Tensor::empty({count}, DType::I64);
  for (int64_t i = 0; i < count; ++i)
    labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(classes));
  return labels;
}

// Trains `steps` steps and predicts before and after, on the CPU JIT and on
// the emulated CUDA plan, comparing everything each entry produces.
void compareWithCpu(nn::Module &model, const std::vector<int64_t> &shape,
                    CompileSpec spec, int steps) {
  spec.inputShape = {4, shape[0], shape[1], shape[2]};
  // The plan goes through its text form, as a cache or bundle stores it.
  cuda::CudaProgram plan = cuda::parseCudaProgram(
      cuda::formatCudaProgram(generateCuda(model, spec)));
  test::HostRunner gpu(plan, cloned(model.namedParameters()));
  Program cpu = compile(model, spec);
  Generator gen(11);
  auto predict = [&](const char *when) {
    if (spec.predictBatch == 0)
      return;
    std::vector<int64_t> batch = spec.inputShape;
    batch[0] = spec.predictBatch;
    Tensor images = normalTensor(batch, gen);
    checkClose(gpu.run("predict", {images}).at(0), cpu.predict(images),
               std::string("logits ") + when);
  };
  predict("before training");
  for (int step = 0; step < steps && spec.train; ++step) {
    INFO("train step " << step);
    Tensor images = normalTensor(spec.inputShape, gen);
    Tensor target = spec.loss == LossKind::CrossEntropy
                        ? randomLabels(spec.inputShape[0], 10, gen)
                        : normalTensor({spec.inputShape[0], 10}, gen);
    std::vector<Tensor> outputs = gpu.run("train_step", {images, target});
    double loss = cpu.run("train_step", {images, target}).at(0).item();
    cpu.setStepsTaken(cpu.stepsTaken() + 1);
    CHECK(outputs.at(0).item() == Approx(loss).epsilon(kRelative));
    for (const auto &[name, value] : cpu.namedParameters())
      checkClose(gpu.named(name), value, name);
    for (const auto &[name, value] : cpu.namedState())
      checkClose(gpu.named(name), value, name);
  }
  predict("after training");
}

void compareWithCpu(const std::string &modelName, const CompileSpec &spec,
                    int steps) {
  manualSeed(5);
  auto model = models::makeModel(modelName);
  compareWithCpu(*model, models::modelInputShape(modelName), spec, steps);
}

// Strides, padding and overlapping pooling windows, which LeNet lacks.
class StridedNet : public nn::Module {
public:
  StridedNet()
      : Module("StridedNet"),
        conv1_(registerModule<nn::Conv2d>("conv1", 3, 4, 3, /*stride=*/2,
                                          /*padding=*/1)),
        conv2_(registerModule<nn::Conv2d>("conv2", 4, 6, 2, 1, 1)),
        fc_(registerModule<nn::Linear>("fc", 6 * 4 * 4, 10)) {}
  Var forward(Var x) override {
    x = maxPool2d(relu(conv1_(x)), 3, 2); // [4,4,15,15] -> [4,4,7,7]
    x = maxPool2d(relu(conv2_(x)), 2, 2); // [4,6,8,8] -> [4,6,4,4]
    return fc_(flatten(x));
  }

private:
  nn::Conv2d &conv1_, &conv2_;
  nn::Linear &fc_;
};

// The second pooling's windows overlap and leave a row and column over, so
// conv2's input gradient gathers from every window over each output.
class OverlapNet : public nn::Module {
public:
  OverlapNet()
      : Module("OverlapNet"),
        conv1_(registerModule<nn::Conv2d>("conv1", 3, 4, 3)),
        conv2_(registerModule<nn::Conv2d>("conv2", 4, 5, 3, 1, 1)),
        fc_(registerModule<nn::Linear>("fc", 5 * 6 * 6, 10)) {}
  Var forward(Var x) override {
    x = maxPool2d(relu(conv1_(x)), 2, 2); // [4,4,27,27] -> [4,4,13,13]
    x = maxPool2d(relu(conv2_(x)), 3, 2); // [4,5,13,13] -> [4,5,6,6]
    return fc_(flatten(x));
  }

private:
  nn::Conv2d &conv1_, &conv2_;
  nn::Linear &fc_;
};

} // namespace

TEST_CASE("CUDA plan of LeNet matches the CPU: SGD with momentum and predict") {
  CompileSpec spec;
  spec.sgd.lr = 0.05;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = 4;
  compareWithCpu("lenet", spec, 2);
}

TEST_CASE("CUDA plan of 3-channel LeNet matches the CPU") {
  CompileSpec spec;
  spec.sgd.lr = 0.05;
  spec.sgd.momentum = 0.9;
  spec.sgd.nesterov = true;
  spec.sgd.weightDecay = 0.01;
  spec.predictBatch = 4;
  compareWithCpu("lenet-cifar", spec, 2);
}

TEST_CASE("CUDA plan of LeNet matches the CPU: summed cross-entropy") {
  CompileSpec spec;
  spec.lossReduction = Reduction::Sum;
  spec.sgd.lr = 0.01;
  compareWithCpu("lenet", spec, 2);
}

TEST_CASE("CUDA plan of LeNet matches the CPU: Adam with AMSGrad") {
  CompileSpec spec;
  spec.optimizer = OptimizerKind::Adam;
  spec.adam.lr = 0.01;
  spec.adam.weightDecay = 0.01;
  spec.adam.amsgrad = true;
  spec.adam.eps = 1e-3; // see the top of the file
  compareWithCpu("lenet", spec, 2);
}

TEST_CASE(
    "CUDA plan of LeNet matches the CPU: centered RMSProp with momentum") {
  CompileSpec spec;
  spec.optimizer = OptimizerKind::RmsProp;
  spec.rmsprop.lr = 0.001;
  spec.rmsprop.momentum = 0.9;
  spec.rmsprop.centered = true;
  spec.rmsprop.eps = 1e-3;
  compareWithCpu("lenet", spec, 2);
}

TEST_CASE("CUDA plan of unfused LeNet with an MSE loss matches the CPU") {
  // Without kiln-fuse: separate conv2d, relu and max_pool2d kernels; the
  // gradient of the summed squared error is a chain of elementwise ops.
  CompileSpec spec;
  spec.fuse = false;
  spec.loss = LossKind::Mse;
  spec.lossReduction = Reduction::Sum;
  spec.sgd.lr = 0.05;
  spec.predictBatch = 4;
  compareWithCpu("lenet", spec, 2);
}

TEST_CASE("CUDA plan of strided and padded convolutions matches the CPU") {
  // The first pooling's windows overlap, so its fused op runs as conv2d_relu
  // and max_pool2d kernels; the second tiles its padded convolution.
  for (bool fuse : {true, false}) {
    INFO("fused " << fuse);
    manualSeed(9);
    StridedNet model;
    CompileSpec spec;
    spec.fuse = fuse;
    spec.sgd.lr = 0.05;
    spec.sgd.momentum = 0.9;
    spec.predictBatch = 4;
    compareWithCpu(model, {3, 30, 30}, spec, 2);
    if (!fuse)
      continue;
    spec.inputShape = {4, 3, 30, 30};
    std::string source = generateCuda(model, spec).source;
    CHECK(source.find(" conv2d_relu_0(") != std::string::npos);
    CHECK(source.find(" max_pool2d_1(") != std::string::npos);
    CHECK(source.find("conv2d_relu_pool_") != std::string::npos);
    CHECK(source.find("if (ih < 0 || ih >= H)") != std::string::npos);
    // And NVRTC takes them (stride and padding tests included).
    if (cuda::builtWithCuda())
      CHECK_NOTHROW(cuda::compileCuda(source, "sm_80"));
  }
}

TEST_CASE("CUDA plan of overlapping pooling after a convolution matches "
          "the CPU") {
  manualSeed(11);
  OverlapNet model;
  CompileSpec spec;
  spec.sgd.lr = 0.05;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = 4;
  compareWithCpu(model, {3, 29, 29}, spec, 2);
  spec.inputShape = {4, 3, 29, 29};
  std::string source = generateCuda(model, spec).source;
  CHECK(source.find(" conv2d_relu_pool_backward_input_") != std::string::npos);
  CHECK(source.find("for (int ph = ph0; ph <= ph1; ++ph)") !=
        std::string::npos);
}

TEST_CASE("CUDA plan of a function of every other op matches the CPU") {
  // transpose, broadcast, mean, max (and its gradient), exp, log, pow, div,
  // neg and stop_gradient, with their gradients.
  manualSeed(2);
  Generator gen(3);
  Graph graph;
  Var w = graph.param("w", normalTensor({3, 5}, gen));
  Var b = graph.param("b", normalTensor({5}, gen));
  Var x = graph.input("x", {4, 3});
  Var h = matmul(x, w) + broadcastTo(b, {4, 5});
  Var t = transpose(exp(h * 0.3), {1, 0});                    // [5, 4]
  Var m = max(t, {1}, /*keepdim=*/true);                      // [5, 1]
  Var s = log(sum(pow(t, 2.0), {1}, true) + 1.0) / (m + 3.0); // [5, 1]
  Var y = mean(s - detach(m) * 0.1, {0, 1}) + mean(-h, {0, 1});
  for (bool gradient : {false, true}) {
    INFO("gradient " << gradient);
    cuda::CudaProgram plan = generateCudaFunction(graph, y, gradient);
    test::HostRunner gpu(plan, graph.params());
    Program cpu = compileFunction(graph, y, gradient);
    Tensor input = normalTensor({4, 3}, gen);
    std::string entry = gradient ? "f_grad" : "f";
    std::vector<Tensor> got = gpu.run(entry, {input});
    const std::vector<Tensor> &want = cpu.run(entry, {input});
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i)
      checkClose(got[i], want[i], entry + " output " + std::to_string(i));
  }
}

TEST_CASE("CUDA plan of per-sample and summed losses matches the CPU") {
  // Cross-entropy and squared error with each reduction, and gradients
  // through the per-sample losses.
  manualSeed(4);
  Generator gen(6);
  Graph graph;
  Var w = graph.param("w", normalTensor({3, 5}, gen));
  Var x = graph.input("x", {4, 3});
  Var labels = graph.input("labels", {4}, DType::I64);
  Var target = graph.input("target", {4, 5});
  Var h = matmul(x, w);
  Var each = crossEntropy(h, labels, Reduction::None); // [4]
  Var squares = mseLoss(h, target, Reduction::None);   // [4, 5]
  Var y = sum(each * each, {0}) + mean(squares * squares, {0, 1}) +
          crossEntropy(h, labels, Reduction::Sum) +
          mseLoss(h, target, Reduction::Sum);
  for (bool gradient : {false, true}) {
    INFO("gradient " << gradient);
    test::HostRunner gpu(generateCudaFunction(graph, y, gradient),
                         graph.params());
    Program cpu = compileFunction(graph, y, gradient);
    std::vector<Tensor> inputs = {normalTensor({4, 3}, gen),
                                  randomLabels(4, 5, gen),
                                  normalTensor({4, 5}, gen)};
    std::string entry = gradient ? "f_grad" : "f";
    std::vector<Tensor> got = gpu.run(entry, inputs);
    const std::vector<Tensor> &want = cpu.run(entry, inputs);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i)
      checkClose(got[i], want[i], entry + " output " + std::to_string(i));
  }
}
