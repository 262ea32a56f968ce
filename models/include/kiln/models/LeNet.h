// LeNet as in the 60-minute blitz: two conv+relu+pool stages and three
// linear layers, for 1-channel 32x32 (Fashion-MNIST padded) or 3-channel
// CIFAR-10 images.
#ifndef KILN_MODELS_LENET_H
#define KILN_MODELS_LENET_H

#include "kiln/nn/Module.h"

namespace kiln::models {

struct LeNetOptions {
  int64_t inChannels = 1;
  /// Multiplies the convolutions' channels (6 and 16): the blitz's
  /// "make the network wider" exercise.
  int64_t width = 1;
  int64_t numClasses = 10;
};

class LeNet : public nn::Module {
public:
  explicit LeNet(LeNetOptions options = {});
  Var forward(Var x) override;

private:
  nn::Conv2d &conv1_, &conv2_;
  nn::MaxPool2d &pool_;
  nn::Linear &fc1_, &fc2_, &fc3_;
};

/// The models `kiln --model NAME` knows: "lenet" (1 channel), "lenet-cifar"
/// (3 channels), each with an optional width.
std::unique_ptr<nn::Module> makeModel(const std::string &name,
                                      int64_t width = 1);
/// Input shape (without batch) of a named model.
std::vector<int64_t> modelInputShape(const std::string &name);

} // namespace kiln::models

#endif // KILN_MODELS_LENET_H
