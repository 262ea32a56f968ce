// A short training run through the API: LeNet learns two synthetic classes.
#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"

#include <catch2/catch.hpp>

using namespace kiln;

TEST_CASE("LeNet halves its loss on separable synthetic data") {
  constexpr int64_t batch = 8, steps = 200;
  manualSeed(0);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {batch, 1, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  Program program = compile(model, spec);

  // Class 0 is a dark image, class 1 a bright one, both under noise.
  Generator gen(11);
  Tensor images = Tensor::empty(spec.inputShape);
  Tensor labels = Tensor::empty({batch}, DType::I64);
  std::vector<double> losses;
  for (int64_t step = 0; step < steps; ++step) {
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t label = static_cast<int64_t>(gen.below(2));
      labels.data<int64_t>()[i] = label;
      float *pixels = images.data<float>() + i * 32 * 32;
      for (int64_t p = 0; p < 32 * 32; ++p)
        pixels[p] = static_cast<float>((label ? 0.8 : -0.8) + 0.3 * gen.normal());
    }
    losses.push_back(program.trainStep(images, labels));
  }
  double last = 0;
  for (int64_t i = steps - 10; i < steps; ++i)
    last += losses[i] / 10;
  INFO("first loss " << losses.front() << ", mean of last 10 " << last);
  CHECK(std::isfinite(last));
  CHECK(last < 0.5 * losses.front());
}
