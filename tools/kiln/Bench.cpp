// kiln bench: images/s of a compiled train step or predict on random data,
// with compile time and peak memory, as one JSON line for bench/ scripts.
#include "Commands.h"

#include "kiln/Compiler.h"
#include "kiln/models/LeNet.h"
#include "kiln/runtime/Error.h"
#include "kiln/runtime/Random.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sys/resource.h>

namespace kiln::cli {

int runBench(const BenchArgs &a) {
  checkPositive("--batch-size", double(a.batchSize));
  checkPositive("--steps", double(a.steps));
  if (a.mode != "train" && a.mode != "predict")
    throw Error("unknown --mode '" + a.mode + "'; choose train or predict");
  if (a.cold)
    setenv("KILN_CACHE_DIR", "off", 1);
  manualSeed(0);
  auto model = models::makeModel(a.model, a.width);
  std::vector<int64_t> shape = models::modelInputShape(a.model);
  CompileSpec spec;
  spec.inputShape = {a.batchSize, shape[0], shape[1], shape[2]};
  spec.train = a.mode == "train";
  spec.predictBatch = spec.train ? 0 : a.batchSize;
  spec.fuse = !a.noFuse;
  spec.device = parseDevice(a.device);
  spec.threads = static_cast<int>(a.threads);
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  Program program = compile(*model, spec);
  double compileSeconds =
      std::chrono::duration<double>(Clock::now() - start).count();

  Generator gen(1);
  Tensor images = normalTensor(spec.inputShape, gen);
  Tensor labels = Tensor::empty({a.batchSize}, DType::I64);
  for (int64_t i = 0; i < a.batchSize; ++i)
    labels.data<int64_t>()[i] = static_cast<int64_t>(gen.below(10));
  auto step = [&] {
    if (spec.train)
      program.enqueueTrainStep(images, labels); // on a GPU: waits at the end
    else
      program.predict(images);
  };
  for (int64_t i = 0; i < std::min<int64_t>(a.steps / 10 + 1, 50); ++i)
    step(); // warm caches and pages
  program.takeLosses();
  start = Clock::now();
  for (int64_t i = 0; i < a.steps; ++i)
    step();
  program.takeLosses();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"mode\":\"%s\",\"model\":\"%s\",\"batch\":%lld,\"steps\":%lld,"
      "\"threads\":%d,\"images_per_s\":%.1f,\"us_per_step\":%.2f,\"compile_s\":"
      "%.3f,\"cached\":%s,\"peak_rss_mib\":%.1f,\"device\":\"%s\"}\n",
      a.mode.c_str(), a.model.c_str(), static_cast<long long>(a.batchSize),
      static_cast<long long>(a.steps), program.threads(),
      a.steps * a.batchSize / seconds, 1e6 * seconds / a.steps, compileSeconds,
      a.cold ? "false" : "true", usage.ru_maxrss / 1024.0,
      program.deviceDescription().c_str());
  return 0;
}

} // namespace kiln::cli
