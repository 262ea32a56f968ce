// Threads change nothing but rounding: programs compiled for 1 and 2 threads
// agree step by step, and a program gives the same bits whichever number of
// threads runs it.
#include "Compare.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Random.h"

#include <catch2/catch.hpp>

using namespace kiln;

namespace {

struct Run {
  std::vector<double> losses;
  Tensor logits;
  std::vector<Tensor> params;
};

/// Five SGD steps on seeded batches, then predict, from the same initial
/// weights every time. `runThreads` (if not 0) is Program::setThreads.
Run trainLeNet(int64_t batch, int compileThreads, int runThreads, bool fuse) {
  manualSeed(3);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {batch, 1, 32, 32};
  spec.sgd.lr = 0.01;
  spec.sgd.momentum = 0.9;
  spec.predictBatch = batch;
  spec.fuse = fuse;
  spec.threads = compileThreads;
  Program program = compile(model, spec);
  if (runThreads > 0)
    program.setThreads(runThreads);
  Run run;
  Generator gen(17);
  Tensor labels = Tensor::empty({batch}, DType::I64);
  for (int step = 0; step < 5; ++step) {
    Tensor images = normalTensor({batch, 1, 32, 32}, gen);
    for (int64_t i = 0; i < batch; ++i)
      labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
    run.losses.push_back(program.trainStep(images, labels));
  }
  run.logits = program.predict(normalTensor({batch, 1, 32, 32}, gen)).clone();
  for (auto &[name, value] : model.namedParameters())
    run.params.push_back(value.clone());
  return run;
}

} // namespace

TEST_CASE("LeNet compiled for 1 and 2 threads agrees step by step") {
  // Batch 5 splits unevenly (2 and 3 images); unfused, conv2d and
  // max_pool2d run split too.
  for (int64_t batch : {4, 5}) {
    for (bool fuse : {true, false}) {
      INFO("batch " << batch << (fuse ? ", fused" : ", unfused"));
      Run one = trainLeNet(batch, 1, 0, fuse);
      Run two = trainLeNet(batch, 2, 0, fuse);
      // Only the order of additions differs (gradients summed over two
      // halves of the batch, then added): agreement to float rounding,
      // grown over five steps.
      for (size_t i = 0; i < one.losses.size(); ++i)
        CHECK(two.losses[i] == Approx(one.losses[i]).epsilon(1e-5));
      CHECK(test::difference(two.logits, one.logits).within(1e-5, 1e-6));
      for (size_t k = 0; k < one.params.size(); ++k) {
        INFO("parameter " << k);
        CHECK(
            test::difference(two.params[k], one.params[k]).within(1e-5, 1e-6));
      }
    }
  }
}

TEST_CASE("a program gives the same bits whatever threads run it") {
  // Compiled for 3 parts: run by 1 thread (all parts in turn), 2 (one
  // thread takes two) and 3 threads, the results are identical.
  Run reference = trainLeNet(6, 3, 1, true);
  for (int threads : {2, 3}) {
    INFO(threads << " threads");
    Run run = trainLeNet(6, 3, threads, true);
    CHECK(run.losses == reference.losses);
    CHECK(test::difference(run.logits, reference.logits).within(0, 0));
    for (size_t k = 0; k < run.params.size(); ++k)
      CHECK(test::difference(run.params[k], reference.params[k]).within(0, 0));
  }
}

TEST_CASE("thread counts below the minimum are refused with a message") {
  manualSeed(0);
  models::LeNet model;
  CompileSpec spec;
  spec.inputShape = {2, 1, 32, 32};
  spec.threads = -1;
  CHECK_THROWS_WITH(compile(model, spec),
                    Catch::Matchers::Contains("threads must be 0"));
  spec.threads = 1;
  Program program = compile(model, spec);
  CHECK(program.threads() == 1);
  CHECK_THROWS_WITH(program.setThreads(0),
                    Catch::Matchers::Contains("at least 1 thread"));
  CHECK(program.threads() == 1);
}
