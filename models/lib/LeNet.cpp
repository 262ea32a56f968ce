// LeNet in the builder DSL, with PyTorch's parameter names.
#include "kiln/models/LeNet.h"

#include "kiln/runtime/Error.h"

namespace kiln::models {

LeNet::LeNet(LeNetOptions o)
    : nn::Module("LeNet"),
      conv1_(registerModule<nn::Conv2d>("conv1", o.inChannels, 6 * o.width, 5)),
      conv2_(registerModule<nn::Conv2d>("conv2", 6 * o.width, 16 * o.width, 5)),
      pool_(registerModule<nn::MaxPool2d>("pool", 2, 2)),
      fc1_(registerModule<nn::Linear>("fc1", 16 * o.width * 5 * 5, 120)),
      fc2_(registerModule<nn::Linear>("fc2", 120, 84)),
      fc3_(registerModule<nn::Linear>("fc3", 84, o.numClasses)) {}

Var LeNet::forward(Var x) {
  x = pool_(relu(conv1_(x)));
  x = pool_(relu(conv2_(x)));
  x = flatten(x, 1);
  x = relu(fc1_(x));
  x = relu(fc2_(x));
  return fc3_(x);
}

std::unique_ptr<nn::Module> makeModel(const std::string &name, int64_t width) {
  if (width < 1)
    throw Error("--width must be at least 1, got " + std::to_string(width));
  if (name == "lenet")
    return std::make_unique<LeNet>(LeNetOptions{1, width, 10});
  if (name == "lenet-cifar")
    return std::make_unique<LeNet>(LeNetOptions{3, width, 10});
  throw Error("unknown model '" + name + "'; known models: lenet, lenet-cifar");
}

std::vector<int64_t> modelInputShape(const std::string &name) {
  if (name == "lenet-cifar")
    return {3, 32, 32};
  return {1, 32, 32};
}

} // namespace kiln::models
