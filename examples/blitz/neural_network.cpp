// Blitz, part 5: a network as a Module, its loss, its gradients, one weight
// update written by hand, and the loss summed instead of averaged.
#include "kiln/Compiler.h"
#include "kiln/runtime/Ops.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace nn = kiln::nn;

// LeNet: two convolution stages, then three fully connected layers.
class Net : public nn::Module {
public:
  Net()
      : nn::Module("Net"), conv1(registerModule<nn::Conv2d>("conv1", 1, 6, 5)),
        conv2(registerModule<nn::Conv2d>("conv2", 6, 16, 5)),
        pool(registerModule<nn::MaxPool2d>("pool", 2, 2)),
        fc1(registerModule<nn::Linear>("fc1", 16 * 5 * 5, 120)),
        fc2(registerModule<nn::Linear>("fc2", 120, 84)),
        fc3(registerModule<nn::Linear>("fc3", 84, 10)) {}

  kiln::Var forward(kiln::Var x) override {
    x = pool(kiln::relu(conv1(x)));
    x = pool(kiln::relu(conv2(x)));
    x = x.view({-1, 16 * 5 * 5});
    x = kiln::relu(fc1(x));
    x = kiln::relu(fc2(x));
    return fc3(x);
  }

private:
  nn::Conv2d &conv1, &conv2;
  nn::MaxPool2d &pool;
  nn::Linear &fc1, &fc2, &fc3;
};

int main() {
  kiln::manualSeed(0);
  Net net;
  std::cout << net.summary({1, 1, 32, 32});
  std::cout << "parameters: " << net.parameterCount() << "\n";
  std::cout << "conv1.weight: "
            << kiln::shapeToString(net.namedParameters()[0].second.shape())
            << "\n";

  // One program, three entry points: predict, loss, and loss_grad (the loss,
  // then one gradient per parameter in namedParameters() order).
  kiln::CompileSpec spec;
  spec.inputShape = {1, 1, 32, 32};
  spec.loss = kiln::LossKind::Mse;
  spec.train = false;
  spec.gradient = true;
  spec.predictBatch = 1;
  kiln::Program program = kiln::compile(net, spec);

  kiln::Tensor input = kiln::randn({1, 1, 32, 32}, /*seed=*/1);
  kiln::Tensor target = kiln::randn({1, 10}, /*seed=*/2);
  std::cout << "logits " << kiln::shapeToString(program.predict(input).shape())
            << "\n";

  // Gradients are outputs of a program, not state on the parameters, so
  // there is nothing to zero between steps.
  const std::vector<kiln::Tensor> &grads =
      program.run("loss_grad", {input, target});
  double before = grads[0].item();
  std::printf("loss %.4f\n", before);
  std::cout << "conv1.bias gradient: " << grads[2] << "\n";

  // The update rule p = p - lr * grad, in place: the program shares the
  // parameter tensors, so its next run sees the new weights.
  const double lr = 0.01;
  const auto &params = program.namedParameters();
  for (size_t i = 0; i < params.size(); ++i)
    kiln::sub_(params[i].second, lr * grads[i + 1]);

  double after = program.run("loss", {input, target})[0].item();
  std::printf("loss after one step %.4f (%s)\n", after,
              after < before ? "lower" : "NOT lower");

  // PyTorch's MSELoss(reduction="sum"): the squared errors added up instead
  // of averaged, here over the 10 logits.
  spec.lossReduction = kiln::Reduction::Sum;
  spec.predictBatch = 0;
  kiln::Program summed = kiln::compile(net, spec);
  double total = summed.run("loss", {input, target})[0].item();
  std::printf("summed loss %.4f = 10 x mean: %s\n", total,
              std::abs(total - 10 * after) <= 1e-5 * total ? "yes" : "no");
  return 0;
}
