// Blitz, part 6: training LeNet on Fashion-MNIST with the blitz's recipe
// (cross-entropy, SGD with lr 0.001 and momentum 0.9, batches of 4), testing
// it overall and per class, then saving, reloading and re-checking the
// weights. Exits with 77 (skipped) when the data set is not installed.
#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Checkpoint.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Metrics.h"
#include "kiln/runtime/ProgramFile.h"
#include "kiln/runtime/data/BatchLoader.h"
#include "kiln/runtime/data/Dataset.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

int main() {
  // 1. Data: images scaled to [-1, 1] and padded to LeNet's 32x32.
  kiln::Dataset train, test;
  try {
    train = kiln::loadFashionMnist(kiln::defaultFashionMnistDir(), true);
    test = kiln::loadFashionMnist(kiln::defaultFashionMnistDir(), false);
  } catch (const kiln::Error &error) {
    std::printf("skipped: %s\n", error.what());
    return 77;
  }

  // 2. The network, 3. its loss and optimizer, compiled into one program.
  kiln::manualSeed(0);
  kiln::models::LeNet net;
  kiln::CompileSpec spec;
  spec.inputShape = {4, 1, 32, 32};
  spec.loss = kiln::LossKind::CrossEntropy;
  spec.sgd.lr = 0.001;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = 1000;
  kiln::Program program = kiln::compile(net, spec);

  // 4. Training: one compiled step per batch.
  kiln::BatchLoader loader(train, 4, /*shuffle=*/true, /*seed=*/0,
                           /*dropLast=*/true);
  kiln::Tensor images = kiln::Tensor::empty({4, 1, 32, 32});
  kiln::Tensor labels = kiln::Tensor::empty({4}, kiln::DType::I64);
  int64_t count = 0;
  double running = 0;
  for (int step = 1; step <= 3000 && loader.next(images, labels, count);
       ++step) {
    running += program.trainStep(images, labels);
    if (step % 500 == 0) {
      std::printf("step %4d  loss %.3f\n", step, running / 500);
      running = 0;
    }
  }

  // 5. Testing on the 10000 images the network has not seen.
  kiln::BatchLoader testLoader(test, 1000, /*shuffle=*/false, /*seed=*/0,
                               /*dropLast=*/false);
  kiln::Tensor testImages = kiln::Tensor::empty({1000, 1, 32, 32});
  kiln::Tensor testLabels = kiln::Tensor::empty({1000}, kiln::DType::I64);
  kiln::Accuracy accuracy(10);
  while (testLoader.next(testImages, testLabels, count))
    accuracy.add(program.predict(testImages), testLabels, count);
  std::printf("test accuracy %.1f%% on %lld images\n",
              100 * accuracy.overall(),
              static_cast<long long>(accuracy.total()));
  std::vector<double> perClass = accuracy.perClass();
  for (size_t c = 0; c < perClass.size(); ++c)
    std::printf("  %-12s %5.1f%%\n", test.classNames[c].c_str(),
                100 * perClass[c]);

  // Saving and loading: the file holds PyTorch's parameter names.
  namespace fs = std::filesystem;
  fs::path path = fs::temp_directory_path() /
                  ("kiln_blitz_" + std::to_string(::getpid()) +
                   ".safetensors");
  // The program's parameters: on a GPU this copies them back first.
  kiln::saveStateDict(path.string(), program.namedParameters());
  kiln::manualSeed(1); // different initial weights, overwritten by the load
  kiln::models::LeNet reloaded;
  kiln::loadStateDict(path.string(), reloaded.namedParameters());
  fs::remove(path);

  kiln::CompileSpec predictOnly;
  predictOnly.inputShape = {1000, 1, 32, 32};
  predictOnly.train = false;
  predictOnly.predictBatch = 1000;
  kiln::Program again = kiln::compile(reloaded, predictOnly);
  kiln::Tensor expected = program.predict(testImages).clone();
  bool same = again.predict(testImages).allClose(expected, 0, 0);
  std::printf("reloaded model predicts the same: %s\n", same ? "yes" : "no");

  // Saving the entire model: graph and weights, loaded with no LeNet class.
  fs::path programPath = fs::temp_directory_path() /
                         ("kiln_blitz_" + std::to_string(::getpid()) + ".kiln");
  kiln::saveProgram(programPath.string(), program);
  kiln::Program loaded = kiln::loadProgram(programPath.string());
  fs::remove(programPath);
  bool sameLoaded = loaded.predict(testImages).allClose(expected, 0, 0);
  std::printf("loaded program predicts the same: %s\n",
              sameLoaded ? "yes" : "no");
  return same && sameLoaded ? 0 : 1;
}
