// Defines LeNet with kiln's public headers, compiles its training step for
// the CPU and trains it for a few hundred steps, printing the falling loss.
// Uses Fashion-MNIST when installed, else a small synthetic data set.
#include "kiln/Compiler.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/data/BatchLoader.h"
#include "kiln/runtime/data/Dataset.h"

#include <cstdio>

namespace nn = kiln::nn;

// The blitz's network, written the way PyTorch writes it.
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

// Ten classes, each a fixed random image, plus noise: learnable in a few
// hundred steps, for machines without the data set.
static kiln::Dataset syntheticData(int64_t size) {
  kiln::Generator gen(7);
  kiln::Tensor prototypes = kiln::normalTensor({10, 1, 32, 32}, gen);
  kiln::Dataset data;
  data.images = kiln::Tensor::empty({size, 1, 32, 32});
  data.labels = kiln::Tensor::empty({size}, kiln::DType::I64);
  for (int64_t i = 0; i < size; ++i) {
    int64_t label = static_cast<int64_t>(gen.below(10));
    data.labels.data<int64_t>()[i] = label;
    for (int64_t p = 0; p < 32 * 32; ++p)
      data.images.data<float>()[i * 1024 + p] =
          prototypes.data<float>()[label * 1024 + p] +
          0.5f * static_cast<float>(gen.normal());
  }
  for (int c = 0; c < 10; ++c)
    data.classNames.push_back("class " + std::to_string(c));
  return data;
}

int main() {
  kiln::manualSeed(0);
  Net net;
  std::printf("%s", net.summary({4, 1, 32, 32}).c_str());

  kiln::Dataset train;
  try {
    train = kiln::loadFashionMnist(kiln::defaultFashionMnistDir(), true);
  } catch (const kiln::Error &) {
    train = syntheticData(4000);
  }
  kiln::CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.sgd.lr = 0.001;
  spec.sgd.momentum = 0.9;
  kiln::Program program = kiln::compile(net, spec);

  kiln::BatchLoader loader(train, 4, /*shuffle=*/true, /*seed=*/0,
                           /*dropLast=*/true);
  kiln::Tensor images = kiln::Tensor::empty({4, 1, 32, 32});
  kiln::Tensor labels = kiln::Tensor::empty({4}, kiln::DType::I64);
  int64_t count = 0;
  double running = 0;
  for (int step = 1; step <= 600 && loader.next(images, labels, count); ++step) {
    running += program.trainStep(images, labels);
    if (step % 100 == 0) {
      std::printf("step %3d  loss %.3f\n", step, running / 100);
      running = 0;
    }
  }
  return 0;
}
