// The example at the top of kiln/kiln.h, in full: a one-layer classifier of
// three synthetic classes, trained with SGD through the public header only.
#include <kiln/kiln.h>

#include <cstdio>

struct Net : kiln::nn::Module {
  kiln::nn::Linear &fc;
  Net() : Module("Net"), fc(registerModule<kiln::nn::Linear>("fc", 4, 3)) {}
  kiln::Var forward(kiln::Var x) override { return fc(kiln::flatten(x, 1)); }
};

int main() {
  kiln::manualSeed(0);
  Net net;
  kiln::CompileSpec spec;
  spec.inputShape = {8, 4, 1, 1}; // batch 8 of 4 features
  spec.sgd.lr = 0.1;
  spec.predictBatch = 8;
  kiln::Program program = kiln::compile(net, spec);

  // Class c has feature c set to 2 and noise elsewhere.
  kiln::Generator gen(1);
  kiln::Tensor images = kiln::Tensor::empty({8, 4, 1, 1});
  kiln::Tensor labels = kiln::Tensor::empty({8}, kiln::DType::I64);
  auto makeBatch = [&] {
    for (int i = 0; i < 8; ++i) {
      int64_t label = static_cast<int64_t>(gen.below(3));
      labels.data<int64_t>()[i] = label;
      for (int j = 0; j < 4; ++j)
        images.data<float>()[i * 4 + j] =
            (j == label ? 2.0f : 0.0f) + 0.3f * static_cast<float>(gen.normal());
    }
  };
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    makeBatch();
    double loss = program.trainStep(images, labels);
    if (step == 0)
      first = loss;
    last = loss;
  }
  makeBatch();
  kiln::Accuracy accuracy(3);
  accuracy.add(program.predict(images), labels, 8);
  std::printf("loss %.3f -> %.3f, accuracy on a fresh batch %.2f\n", first, last,
              accuracy.overall());
  return last < first / 2 ? 0 : 1;
}
